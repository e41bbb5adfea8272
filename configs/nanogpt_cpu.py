"""Training-quality reference: nanoGPT's CPU recipe on python_docs, 3 seeds.

  python -m lnexp.run --config configs/nanogpt_cpu.py

About 4 minutes on a 2-core CPU (3 lanes of 2,000 steps, 12 x 64 bytes each).
karpathy/nanoGPT's README recipe for a CPU (4 layers, 4 heads, d=128, block
64, batch 12, lr 1e-3, 100 warm-up steps, cosine to 1e-4, beta2 0.99, weight
decay 0.1, clip 1, 2,000 steps, no dropout): pre-LN, unshared layers, learned
positions, tied embeddings, GPT-2 init. nanoGPT's own `model.py` reaches
1.411 nats per byte on this data's eval split; expect lnexp within 0.03 of
it (docs/training-quality.md has the measured numbers).
"""
from lnexp.config import base_config


def get_config():
  c = base_config()
  m, o, t = c.model, c.optim, c.train
  m.norm, m.placement, m.share = 'layernorm', 'pre', 'none'
  m.num_layers, m.hidden_dim, m.embed_dim, m.num_heads, m.mlp_dim = 4, 128, 128, 4, 512
  m.tie_embeddings, m.branch_init = True, 'gpt2'
  o.lr, o.warmup_steps, o.min_lr_ratio = 1e-3, 100, 0.1
  o.b1, o.b2, o.weight_decay, o.clip_norm = 0.9, 0.99, 0.1, 1.0
  t.steps, t.batch_size, t.seq_len = 2000, 12, 64
  t.eval_every, t.eval_batches, t.checkpoint_every = 250, 50, 500
  c.data.source = 'python_docs'
  return c


def get_sweep():
  return [{'train.seed': s, 'data.seed': s} for s in range(3)]
