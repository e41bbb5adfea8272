"""Claims v4 pilot: how long must the article's model train on `topics`?

  python -m lnexp.run --config configs/pilot_topics.py

About 15 minutes on a quiet 2-core CPU (18 runs in 6 groups). ALBERT-shared,
d=128, 2 layers, untied zero-initialised output layer, batch 16 x 64, 100
warm-up steps, LRs 2e-3 / 4e-3 / 8e-3: post-LN and pre-LN at 2,000 and 4,000
steps, no norm (embedding x 0.1 or x 1) at 2,000; 64 eval batches (65k
tokens). A size is in the
learned regime when the best LR closes >= 75% of the gap between the
previous-token loss and the Bayes floor and doubling the steps gains < 0.05
nats (docs/claims-v4-pilots.md; `python -m lnexp.claims.regime WORKDIR` prints
the table).

  python -m lnexp.run --config configs/pilot_topics.py:padded

The same criteria on padded rows (one document per row, PAD after it;
claim 12's layout): post-LN at LR 2e-3 and 4e-3, 2,000 and 4,000 steps,
4 runs, about 6 minutes on a quiet 2-core CPU.

  python -m lnexp.run --config configs/pilot_topics.py:unshared4

The same criteria for 4 unshared layers (claims 5, 15, 16, 18, 19's model):
post-LN at LR 3e-3 and 1e-2, 2,000 and 4,000 steps, 4 runs, 12 minutes beside
other work on a 2-core CPU.
"""
from lnexp.config import base_config


def get_config(arg=''):
  if arg not in ('', 'padded', 'unshared4'):
    raise ValueError(f'unknown pilot {arg!r}; known: padded, unshared4 (or none)')
  c = base_config()
  m, t = c.model, c.train
  m.num_layers, m.hidden_dim, m.embed_dim, m.num_heads, m.mlp_dim = 2, 128, 128, 4, 512
  m.branch_init, m.tie_embeddings, m.unembed_init = 'gpt2', False, 0.0
  c.optim.warmup_steps = 100
  t.batch_size, t.seq_len, t.steps = 16, 64, 2000
  t.eval_every, t.eval_batches, t.checkpoint_every = 500, 64, 1000
  c.data.source = 'topics'
  c.data.pack = arg != 'padded'
  if arg == 'unshared4':
    m.num_layers, m.share = 4, 'none'
  return c


def get_sweep(arg=''):
  if arg in ('padded', 'unshared4'):
    lrs = (2e-3, 4e-3) if arg == 'padded' else (3e-3, 1e-2)
    return [{'optim.lr': lr, 'train.steps': steps} for steps in (2000, 4000) for lr in lrs]
  lrs = (2e-3, 4e-3, 8e-3)
  variants = [{}, {'model.placement': 'pre'}]
  no_norm = [{'model.norm': 'none', 'model.embed_scale': scale} for scale in (0.1, 1.0)]
  return ([{'optim.lr': lr, 'train.steps': steps, **v}
           for v in variants for steps in (2000, 4000) for lr in lrs] +
          [{'optim.lr': lr, **v} for v in no_norm for lr in lrs])
