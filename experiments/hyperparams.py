"""Claim 3: sensitivity to warm-up, initialization scale and batch size.

  python -m lnexp.run --config experiments/hyperparams.py[:quick|:full]

No norm (fair init, lnexp.claims.sizes), post-LN and pre-LN at peak LR 3e-2 (high enough that the
hyperparameters matter; every variant trains there in the LR sweep), 300
steps, 3 seeds, changing one factor at a time from the centre (warm-up 5% =
15 steps, init scale 1, batch 16):
warm-up 0, 2%, 5%, 10%; init scale 0.5, 1, 2; batch size 8, 16, 32.
72 points, 5.9 process-minutes on a 2-core CPU (2026-12-05; two 3-minute
shards under `lnexp.claims --jobs 2`).

Metric: per factor, the spread (max minus min) of final eval loss over the
factor's values, a diverged point counting at ln V.

--- rule claim-3 ---
Verdict rule, fixed before running. Per factor and for each of post-LN and
pre-LN, the paired difference over 3 seeds of the spread (max - min over the
factor's values of final eval loss, a diverged run at ln V), d = spread(no
norm) - spread(LayerNorm) (positive: LayerNorm less sensitive), 95% paired
t-interval, minimum effect delta = 0.05 nats; outcomes supported /
contradicted / no effect / inconclusive. The claim ("reduces sensitivity to
... learning rates, weight initialization, and batch sizes"; the learning rate
is claim 2's) is given the common outcome of the six comparisons if they
agree, else mixed. Counts of trained, collapsed and diverged runs reported.
--- end rule ---
"""
from lnexp.claims import sizes

VARIANTS = tuple(sizes.variants('none', 'layernorm-post', 'layernorm-pre'))
CENTRE = {'optim.warmup_steps': 15, 'model.init_scale': 1.0, 'train.batch_size': 16}


def factors(size):
  """{factor key: values}; warm-up in steps of the experiment's length."""
  steps = get_config(size).train.steps
  return {'optim.warmup_steps': sorted({0, round(0.02 * steps), round(0.05 * steps),
                                        round(0.1 * steps)}),
          'model.init_scale': [0.5, 1.0, 2.0],
          'train.batch_size': {'smoke': [4], 'quick': [8, 16]}.get(size, [8, 16, 32])}


def get_config(arg=''):
  c = sizes.claims_config(sizes.size_of(arg))
  c.optim.lr = 3e-2
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  centre = {**CENTRE, 'optim.warmup_steps': get_config(size).optim.warmup_steps,
            'train.batch_size': get_config(size).train.batch_size}
  variants = {'smoke': VARIANTS[1:2], 'quick': VARIANTS[:2]}.get(size, VARIANTS)
  points = []
  for factor, values in factors(size).items():
    for value in values:
      points += [{**v, **centre, factor: value, **seed} for v in variants
                 for seed in sizes.seeds(size)]
  return points
