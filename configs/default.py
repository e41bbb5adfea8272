"""The seed article's model: post-LN LayerNorm, ALBERT sharing, synthetic data.

  python -m lnexp.run --config configs/default.py

About a minute on a 2-core CPU: 4 shared layers, hidden 128, 300 steps of
16 x 64 tokens, AdamW at 3e-3 with 15 warm-up steps. Expect the eval loss to
fall from ~ln(35) = 3.6 to ~2.48, well below the unigram entropy (3.52 nats)
and near the synthetic language's entropy floor (2.46 nats, printed per row).
"""
from lnexp.config import base_config


def get_config():
  c = base_config()
  c.train.batch_size = 16
  c.train.seq_len = 64
  c.train.steps = 300
  c.optim.warmup_steps = 15
  return c
