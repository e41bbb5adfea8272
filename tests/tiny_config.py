"""A tiny 3-lane learning-rate sweep shared by the run tests (seconds on CPU)."""
from lnexp.config import base_config


def get_config():
  c = base_config()
  c.model.num_layers = 2
  c.model.hidden_dim = c.model.embed_dim = 32
  c.model.mlp_dim = 64
  c.train.steps = 40
  c.train.batch_size = 8
  c.train.seq_len = 16
  c.train.log_every = 10
  c.train.eval_every = 20
  c.train.checkpoint_every = 20
  c.train.eval_batches = 2
  c.optim.warmup_steps = 4
  return c


def get_sweep():
  return [{'optim.lr': lr} for lr in (3e-3, 1e-2, 30.0)]
