"""Claim 6: implicit regularization on a small corpus where models overfit.

  python -m lnexp.run --config experiments/generalization.py[:quick|:full]

The first 30,000 bytes of CPython's docs (27 kB train, 3 kB eval), 1,200 steps
of 16 x 64 bytes (about 36 epochs), peak LR 3e-3; no norm (fair init,
lnexp.claims.sizes), post-LN, pre-LN, pre-RMSNorm and post-BatchNorm, 3 seeds.
15 points, 4.5 process-minutes on a 2-core CPU (2026-12-05; shards of 3 and 2
minutes under --jobs 2).

Metric: the generalization gap, eval loss minus train loss, at matched train
loss: at the first logged step where each point's train loss (smoothed over
5 logs) falls below the highest final train loss among the seed's trained
runs, so every variant is compared at the same fit; also the gap at the end.

--- rule claim-6 ---
Verdict rule, fixed before running. For each of post-LN and pre-LN, the paired
difference over 3 seeds of the generalization gap at matched train loss, d =
gap(no norm) - gap(LayerNorm) (positive: LayerNorm regularizes), 95% paired
t-interval, minimum effect delta = 0.05 nats; a collapsed or diverged run is
missing (inconclusive). Verdict: the common outcome of the two if they agree,
else mixed. The gap at the end and pre-RMSNorm and post-BatchNorm reported
beside.
--- end rule ---
"""
from lnexp.claims import sizes

VARIANTS = (*sizes.variants('none', 'layernorm-post', 'layernorm-pre'),
            {'model.norm': 'rmsnorm', 'model.placement': 'pre'},
            {'model.norm': 'batchnorm', 'model.placement': 'post'})


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = sizes.claims_config(size, steps=1200)
  c.data.source = 'python_docs'
  c.data.max_bytes = 30_000
  c.optim.lr = 3e-3
  c.train.eval_every = c.train.log_every = max(c.train.steps // 24, 1)
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  variants = {'smoke': VARIANTS[1:2], 'quick': VARIANTS[:3]}.get(size, VARIANTS)
  return [{**v, **seed} for v in variants for seed in sizes.seeds(size)]
