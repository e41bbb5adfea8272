"""Claims 2 and 5: learning-rate sensitivity and internal covariate shift.

  python -m lnexp.run --config experiments/lr_sensitivity.py[:quick|:full]

Core: norm (none, layernorm, rmsnorm, batchnorm with causal-safe
bn_axes=batch, dyt) x placement (post, pre; `none` once) x 7 peak LRs
3e-4..3e-1 x 3 seeds on synthetic data, plus pre-LN with qk_norm (Wortsman et
al. 2023) and pre-LN with z-loss 1e-4 arms; none / post-LN / pre-LN again on
CPython's docs (python_docs). 294 points of the claims model (lnexp.claims.sizes),
300 steps; about 37 minutes in one process on a 2-core CPU (two ~18-minute
shards under `lnexp.claims --jobs 2`). --full adds every norm on
python_docs and 5 seeds.

Metrics (lnexp.report): LR sensitivity (Wortsman et al. 2023: mean over the LR
grid of min(final eval loss, init loss) minus the grid's best), max stable LR,
divergence counts; ICS drift: RMS change of the per-feature mean of every
norm site's input between diagnostic steps (every 10 steps), averaged over
depth, sites and training.

--- rule claims-2-5 ---
Verdict rules, fixed before running:
- Claim 2 ("training can proceed smoothly across a wider range of learning
  rates"): supported if every LayerNorm variant (post and pre) has a lower LR
  sensitivity than no-norm in every seed on every dataset; not supported if
  no LayerNorm variant does in any seed; mixed otherwise.
- Claim 5 (LayerNorm reduces internal covariate shift): supported if every
  LayerNorm variant's mean ICS drift at the shared LR 1e-2 is below no-norm's
  in every seed; not supported if none is; mixed otherwise. Whether drift
  predicts the outcome is reported as the Spearman rank correlation between
  a point's mean drift and its final eval loss over all non-diverged points.
- Literature checks: Wortsman et al. 2023 (qk_norm lowers LR sensitivity) is
  reproduced if pre-LN+qk_norm's LR sensitivity is below pre-LN's in every
  seed, with the final max attention logit at the highest LR both finish
  reported beside it; Zhu et al. 2025 (DyT matches LayerNorm) is reproduced if
  DyT's best final eval loss is within 0.05 nats of LayerNorm's, same
  placement, in every seed.
--- end rule ---
"""
from lnexp.claims import sizes

NORMS = ('layernorm', 'rmsnorm', 'batchnorm', 'dyt')
TEXT = ({'model.norm': 'none'}, {'model.norm': 'layernorm', 'model.placement': 'post'},
        {'model.norm': 'layernorm', 'model.placement': 'pre'})


def get_config(arg=''):
  return sizes.claims_config(sizes.size_of(arg))


def variants(size):
  """(data overrides, model variant) pairs of the sweep."""
  main = [{'model.norm': 'none'}] + [
      {'model.norm': n, 'model.placement': p} for n in NORMS for p in ('post', 'pre')]
  arms = [{'model.norm': 'layernorm', 'model.placement': 'pre', 'model.qk_norm': True},
          {'model.norm': 'layernorm', 'model.placement': 'pre', 'optim.z_loss': 1e-4}]
  if size == 'smoke':  # one group: the test suite's run of the whole suite
    return [({'data.source': 'synthetic'}, {'model.norm': 'layernorm'})]
  if size == 'quick':  # LayerNorm post and pre against no norm, synthetic only
    return [({'data.source': 'synthetic'}, v) for v in main[:3]]
  synthetic = [({'data.source': 'synthetic'}, v) for v in main + arms]
  text = main if size == 'full' else TEXT
  return synthetic + [({'data.source': 'python_docs'}, v) for v in text]


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  return [{**data, **variant, **seed, 'optim.lr': lr}
          for data, variant in variants(size)
          for seed in sizes.seeds(size) for lr in sizes.lrs(size)]
