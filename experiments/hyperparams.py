"""Claim 3: sensitivity to warm-up, initialization scale and batch size.

  python -m lnexp.run --config experiments/hyperparams.py[:quick|:full]

No norm, post-LN and pre-LN at peak LR 3e-2 (high enough that the
hyperparameters matter; every variant trains there in the LR sweep), 300
steps, 3 seeds, changing one factor at a time from the centre (warm-up 5% =
15 steps, init scale 1, batch 16):
warm-up 0, 2%, 5%, 10%; init scale 0.5, 1, 2; batch size 8, 16, 32.
72 points; about 15 minutes in one process on a 2-core CPU (shards of
5 and 7 minutes under `lnexp.claims --jobs 2`).

Metric: per factor, the spread (max minus min) of final eval loss over the
factor's values, a diverged point counting as its init loss.

--- rule claim-3 ---
Verdict rule, fixed before running: per factor, LayerNorm is less sensitive if
both post-LN's and pre-LN's spread are below no-norm's in every seed. The claim
("reduces sensitivity to ... learning rates, weight initialization, and batch
sizes") is supported if that holds for all three factors, not supported if it
holds for none, mixed otherwise.
--- end rule ---
"""
from lnexp.claims import sizes

VARIANTS = ({'model.norm': 'none'}, {'model.norm': 'layernorm', 'model.placement': 'post'},
            {'model.norm': 'layernorm', 'model.placement': 'pre'})
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
  variants = VARIANTS[1:2] if size == 'smoke' else VARIANTS
  points = []
  for factor, values in factors(size).items():
    for value in values:
      points += [{**v, **centre, factor: value, **seed} for v in variants
                 for seed in sizes.seeds(size)]
  return points
