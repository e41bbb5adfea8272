"""Claim 11: does LayerNorm matter more when layers share parameters (ALBERT)?

  python -m lnexp.run --config experiments/sharing.py[:quick|:full]

No norm (fair init) and post-LN, 4 layers, ALBERT-shared (share=all) and
unshared (share=none), peak LR 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 200 steps on
`topics`, 3 seeds. 60 points, 6.3 process-minutes on a 2-core CPU (2026-12-05;
about half that with --jobs 2).

Metric: LR sensitivity with the common reference (lnexp.analysis.sensitivity:
mean over the grid of min(final eval loss, ln V) minus the best; a diverged
run at ln V), per variant, share and seed.

--- rule claim-11 ---
Verdict rule, fixed before running. Claim 11 (in a model with shared,
fewer parameters "LayerNorm ensures that the smaller parameter space does not
lead to overly aggressive learning rates or unstable gradient magnitudes"):
the interaction over 3 seeds, d = [S(no norm, shared) - S(post-LN, shared)] -
[S(no norm, unshared) - S(post-LN, unshared)] (positive: LayerNorm lowers LR
sensitivity more in the shared model), 95% paired t-interval, minimum effect
delta = 0.05 nats; supported / contradicted / no effect / inconclusive. The
two differences on their own are reported beside.
--- end rule ---
"""
from lnexp.claims import sizes


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = sizes.claims_config(size, steps=200)
  c.model.num_layers = 4
  c.data.source = 'topics'
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  names = ('layernorm-post',) if size == 'smoke' else ('none', 'layernorm-post')
  lrs = {'smoke': (1e-2,), 'quick': (1e-3, 1e-2, 1e-1)}.get(size,
                                                            (1e-3, 3e-3, 1e-2, 3e-2, 1e-1))
  return [{**sizes.VARIANTS[n], 'model.share': share, 'optim.lr': lr, **seed}
          for n in names for share in ('all', 'none') for seed in sizes.seeds(size)
          for lr in lrs]
