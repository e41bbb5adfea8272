"""Claims v4 pilot: how long must claim 8's LSTM train on `python_docs`?

  python -m lnexp.run --config configs/pilot_lstm.py

About 6 minutes on a quiet 2-core CPU (8 runs in 4 groups). Claim 8's byte-level
LSTM (hidden 64, embedding 64, batch 16 x 64, untied output layer initialised at
zero), no norm and LayerNorm (Ba et al. 2016), LR 1e-2 and 3e-2 (v3's best LRs
after 300 steps), 100 warm-up steps, at 2,000 and 4,000 steps; 64 eval batches
(65k bytes). python_docs has no exact floor, so only the saturation criterion
applies: doubling the steps gains < 0.05 nats (docs/claims-v4-pilots.md;
`python -m lnexp.claims.regime WORKDIR` prints the table).
"""
from lnexp.config import base_config
from lnexp.models.validate import with_arch


def get_config():
  c = with_arch(base_config(), 'lstm')
  m, t = c.model, c.train
  m.hidden_dim = m.embed_dim = 64
  m.unembed_init = 0.0
  c.optim.warmup_steps = 100
  t.batch_size, t.seq_len, t.steps = 16, 64, 2000
  t.eval_every, t.eval_batches, t.checkpoint_every = 500, 64, 1000
  c.data.source = 'python_docs'
  return c


def get_sweep():
  return [{'model.norm': norm, 'optim.lr': lr, 'train.steps': steps}
          for norm in ('none', 'layernorm') for steps in (2000, 4000) for lr in (1e-2, 3e-2)]
