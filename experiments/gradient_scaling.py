"""Claim 1, literature check: Xiong et al. 2020's last-layer gradient scaling.

  python -m lnexp.run --config experiments/gradient_scaling.py[:quick|:full]

Unshared (share=none) LayerNorm GPTs, post vs pre placement, depth 2, 4, 8,
16 (--full adds 32), 3 seeds; one step with gradient clipping off, so the
step-1 diagnostics are the gradients at initialization. 24 points, 0.7
process-minutes on a 2-core CPU (2026-12-05), nearly all compiling.

Metric: the gradient norm of the last layer's weights
(`layer_grad_norm/{attn,mlp}` at the deepest layer, summed in quadrature) vs
depth L; the slope of log(norm) on log(L), per seed.

--- rule claim-1b ---
Rule (the prediction of Xiong et al. 2020, Theorems 1-2), fixed before
running, on the slope of log(last-layer gradient norm) on log(L) over 3
seeds with its 95% t-interval: reproduced if post-LN's interval lies inside
[-0.15, +0.15] (flat) and pre-LN's lies below -0.25 (falling, towards -0.5 =
1/sqrt(L)); not reproduced if neither holds; partly otherwise (each stated).
--- end rule ---
"""
from lnexp.claims import sizes


def depths(size):
  return {'smoke': (1, 2), 'quick': (2, 8), 'core': (2, 4, 8, 16),
          'full': (2, 4, 8, 16, 32)}[size]


def get_config(arg=''):
  c = sizes.claims_config(sizes.size_of(arg), steps=1)
  c.train.steps = c.train.eval_every = c.train.log_every = c.train.checkpoint_every = 1
  c.train.fast_compile = True  # one step per lane: compiling is the whole run
  c.optim.warmup_steps = 0
  c.optim.clip_norm = 0.0
  c.model.share = 'none'
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  placements = ('post',) if size == 'smoke' else ('post', 'pre')
  return [{'model.placement': p, 'model.num_layers': d, **seed}
          for p in placements for d in depths(size) for seed in sizes.seeds(size)]
