"""Claims v4 pilot: how long must the article's model train on `topics`?

  python -m lnexp.run --config configs/pilot_topics.py

About 10 minutes on a quiet 2-core CPU (2 groups of 4 lanes). Post-LN,
ALBERT-shared, d=128, 2 layers, untied zero-initialised output layer, batch
16 x 64, 100 warm-up steps, at four
LRs and 2,000 / 4,000 steps; 64 eval batches (65k tokens). A size is in the
learned regime when the best LR closes >= 75% of the gap between the
previous-token loss and the Bayes floor and doubling the steps gains < 0.05
nats (docs/claims-v4-pilots.md).
"""
from lnexp.config import base_config


def get_config():
  c = base_config()
  m, t = c.model, c.train
  m.num_layers, m.hidden_dim, m.embed_dim, m.num_heads, m.mlp_dim = 2, 128, 128, 4, 512
  m.branch_init, m.tie_embeddings, m.unembed_init = 'gpt2', False, 0.0
  c.optim.warmup_steps = 100
  t.batch_size, t.seq_len, t.steps = 16, 64, 2000
  t.eval_every, t.eval_batches, t.checkpoint_every = 500, 64, 1000
  c.data.source = 'topics'
  return c


def get_sweep():
  return [{'optim.lr': lr, 'train.steps': steps}
          for steps in (2000, 4000) for lr in (2e-3, 4e-3, 8e-3, 1.6e-2)]
