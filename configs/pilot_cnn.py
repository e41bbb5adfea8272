"""Claims v4 pilot: is claim 9's CNN trained at its 150 steps?

  python -m lnexp.run --config configs/pilot_cnn.py

About 12 minutes beside other work on a 2-core CPU (20 small runs in 10
groups). Claim 9's model (experiments/cnn_depth.py: residual CNN, 8 channels,
depth 12, 8x8 digits, batch 16, classifier head at init gain 0.1), LayerNorm
and BatchNorm at LR 1e-3 and 1e-2, 150 to 2,400 steps with the same 8 warm-up
steps; every eval reads 256 test images. digits has no Bayes floor, so only
the saturation criterion applies: doubling the steps gains < 0.05 nats of
test loss (docs/claims-v4-pilots.md; `python -m lnexp.claims.regime WORKDIR`
prints the table).
"""
from lnexp.claims import sizes
from lnexp.models.validate import with_arch

STEPS = (150, 300, 600, 1200, 2400)


def get_config():
  c = with_arch(sizes.claims_config('core', steps=150), 'cnn')
  c.model.placement, c.model.hidden_dim, c.model.num_layers = 'post', 8, 12
  c.model.unembed_init = 0.1
  c.data.source = 'digits'
  c.train.eval_batches = 16
  return c


def get_sweep():
  return [{'model.norm': norm, 'optim.lr': lr, 'train.steps': steps,
           'train.eval_every': steps, 'train.checkpoint_every': steps}
          for steps in STEPS for norm in ('layernorm', 'batchnorm') for lr in (1e-3, 1e-2)]
