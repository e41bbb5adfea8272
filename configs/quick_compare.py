"""LayerNorm vs RMSNorm vs BatchNorm vs no norm (post-LN) across 5 learning rates.

  python -m lnexp.run --config configs/quick_compare.py

The README's main job: 20 points in 4 groups of 5 lanes (one compiled program
per norm, the learning rates as lanes), 400 steps of a 2-layer, hidden-64
shared model on synthetic data; about 3-5 minutes on a 2-core CPU. Every
variant gets lnexp's default fair start (GPT-2 residual-branch scaling, an
untied output layer with small logits): each begins within ~0.02 nats of ln V. Expect the
normalized variants to train at the higher learning rates where `none` does
worse or diverges; the final table lists every point's eval loss, and
`results.jsonl` in the workdir holds the rows.
"""
from lnexp.config import base_config

NORMS = ('layernorm', 'rmsnorm', 'batchnorm', 'none')
LRS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)


def get_config():
  c = base_config()
  c.model.num_layers = 2
  c.model.hidden_dim = c.model.embed_dim = 64
  c.model.mlp_dim = 256
  c.train.batch_size = 16
  c.train.seq_len = 64
  c.train.steps = 400
  c.train.eval_every = 100
  c.train.log_every = 20
  c.train.checkpoint_every = 200
  c.optim.warmup_steps = 20
  return c


def get_sweep():
  return [{'model.norm': norm, 'optim.lr': lr} for norm in NORMS for lr in LRS]
