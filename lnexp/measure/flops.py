"""Model FLOPs of a training step (Kaplan et al. 2020; PaLM, Chowdhery et al. 2022).

Per token: 6 x (matmul parameters applied per token, counting a shared block
once per depth) + 12 x L x H x T for attention scores and values (forward and
backward). Embedding lookups and elementwise work are not counted. LSTM: its gate
and output matmuls; CNN: its 3x3 convolutions, assuming 8x8 images (digits).
"""
from __future__ import annotations

ASSUMED_FLOPS_PER_S = 60e9  # plan estimates only (docs/performance.md); lnexp.bench measures


def matmul_params_per_token(cfg) -> int:
  m = cfg.model
  h, e, v = m.hidden_dim, m.embed_dim, m.vocab_size
  block = 4 * h * h + 2 * h * m.mlp_dim
  embed = e * h if e != h else 0
  unembed = (h * e if e != h else 0) + e * v if m.tie_embeddings else h * v
  return m.num_layers * block + embed + unembed


def flops_per_step(cfg) -> float:
  """Training FLOPs of one step of one lane."""
  t, b, m = cfg.train.seq_len, cfg.train.batch_size, cfg.model
  if m.arch == 'lstm':  # input and recurrent gate matmuls, output layer
    return 6.0 * b * t * (4 * m.hidden_dim * (m.embed_dim + m.hidden_dim)
                          + m.hidden_dim * m.vocab_size)
  if m.arch == 'cnn':  # 3x3 convolutions on 8x8 digits (2 per block) and the stem
    pixels, c = 64, m.hidden_dim
    return 6.0 * b * pixels * 9 * c * (2 * m.num_layers * c + 1)
  per_token = 6 * matmul_params_per_token(cfg) + 12 * cfg.model.num_layers * \
      cfg.model.hidden_dim * t
  return float(per_token * b * t)


def estimate_seconds(cfg, lanes: int) -> float:
  vocab = cfg.model.vocab_size if cfg.model.vocab_size > 0 else 256
  cfg = cfg.copy_and_resolve_references()
  cfg.model.vocab_size = vocab
  return cfg.train.steps * lanes * flops_per_step(cfg) / ASSUMED_FLOPS_PER_S
