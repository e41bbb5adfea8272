"""Claims 1 and 4: gradient flow and error accumulation across shared depth.

  python -m lnexp.run --config experiments/depth.py[:quick|:full]

Core: none, and layernorm, rmsnorm, batchnorm, dyt in post and pre placement,
plus layernorm peri (Kim et al. 2025), at ALBERT-shared depth 2, 8, 16
(--full: 2, 4, 8, 16, 32) x 3 seeds, LR 3e-3, 100 steps of batch 8;
diagnostics at step 1 (initialization) and every 10 steps. 90 points; about
26 minutes in one process on a 2-core CPU (two ~14-minute shards under
`lnexp.claims --jobs 2`).

Metrics, per point, from the diagnostics (lnexp.diagnostics):
- gradient spread: max over depth / min over depth of the backprop gradient
  norm after each block (`depth/grad_flow`), at step 1 and at the last
  diagnostic step;
- residual growth: residual-stream RMS after the last block / after the first
  (`depth/residual_rms`) at the last diagnostic step.

--- rule claims-1-4 ---
Verdict rules, fixed before running (deepest core depth, 16):
- Claim 1 ("helps maintain the gradients within a reasonable range during
  backpropagation", post-LN as in the article): supported if post-LN's
  gradient spread, at initialization and at the end, is below no-norm's in
  every seed; not supported if it is above in every seed; mixed otherwise.
  Pre and peri placements and the other norms are reported beside it.
- Claim 4 ("prevents error accumulation across depth"): supported if
  post-LN's residual growth is below no-norm's in every seed and stays below
  2 (no compounding); not supported if it is above no-norm's in every seed;
  mixed otherwise.
--- end rule ---
"""
from lnexp.claims import sizes

NORMS = ('layernorm', 'rmsnorm', 'batchnorm', 'dyt')


def depths(size):
  return {'smoke': (2,), 'quick': (2, 8), 'core': (2, 8, 16),
          'full': (2, 4, 8, 16, 32)}[size]


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = sizes.claims_config(size, steps=100)
  c.optim.lr = 3e-3
  c.model.scan_unroll = 2  # deep shared stacks compile ~1.4x faster than with 4
  if size != 'smoke':
    c.train.batch_size = 8
  return c


def variants(size):
  if size == 'smoke':
    return [{'model.norm': 'layernorm', 'model.placement': 'post'}]
  norms = NORMS if size in ('core', 'full') else ('layernorm',)
  peri = [] if size == 'quick' else [{'model.norm': 'layernorm', 'model.placement': 'peri'}]
  return ([{'model.norm': 'none'}]
          + [{'model.norm': n, 'model.placement': p} for n in norms for p in ('post', 'pre')]
          + peri)


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  return [{**v, 'model.num_layers': d, **seed}
          for v in variants(size) for d in depths(size) for seed in sizes.seeds(size)]
