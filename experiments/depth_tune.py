"""Claims 1 and 4, first stage: tune LR x warm-up per variant and depth.

  python -m lnexp.run --config experiments/depth_tune.py[:quick|:full]

The five headline variants (lnexp.claims.sizes) at ALBERT-shared depth 2 and
16 (the shallowest and deepest of experiments/depth.py), seed 0, peak LR 1e-3,
3e-3, 1e-2 x warm-up 5% and 25% of 150 steps of batch 8. experiments/depth.py
then runs each variant and depth at its best setting (lowest final eval loss,
a diverged run at ln V) over all seeds. No verdict here; its rule is depth.py's.
60 points, 7.2 process-minutes on a 2-core CPU (2026-12-05; about half that with --jobs 2).
"""
from lnexp.claims import sizes

LRS = (1e-3, 3e-3, 1e-2)
WARMUP = (0.05, 0.25)  # fractions of the run


def depths(size):
  return {'smoke': (2,), 'quick': (2, 8)}.get(size, (2, 16))


def names(size):
  return {'smoke': ('layernorm-post',), 'quick': sizes.HEADLINE[:3]}.get(size, sizes.HEADLINE)


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = sizes.claims_config(size, steps=150)
  c.model.scan_unroll = 2  # deep shared stacks compile ~1.4x faster than with 4
  c.train.eval_every = max(c.train.steps // 10, 1)  # the last 20%: two evaluations
  if size != 'smoke':
    c.train.batch_size = 8
  return c


def settings(size):
  steps = get_config(size).train.steps
  lrs = {'smoke': LRS[1:2], 'quick': LRS[1:]}.get(size, LRS)
  return [{'optim.lr': lr, 'optim.warmup_steps': max(round(w * steps), 1)}
          for lr in lrs for w in WARMUP]


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  return [{**sizes.VARIANTS[n], 'model.num_layers': d, **s, **sizes.seeds(size)[0]}
          for n in names(size) for d in depths(size) for s in settings(size)]
