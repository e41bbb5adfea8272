"""Model FLOPs of a training step (Kaplan et al. 2020; PaLM, Chowdhery et al. 2022).

Each arch counts its own (`Arch.costs` in lnexp.models.archs): for the
transformer, 6 x (matmul parameters applied per token, counting a shared block
once per depth) + 12 x L x H x T for attention scores and values (forward and
backward); embedding lookups and elementwise work are not counted.
"""
from __future__ import annotations

from lnexp.models.archs import ARCHS

ASSUMED_FLOPS_PER_S = 95e9  # plan estimates only (docs/performance.md); lnexp.bench measures


def flops_per_step(cfg) -> float:
  """Training FLOPs of one step of one lane."""
  return ARCHS[cfg.model.arch].costs(cfg)['flops']


def estimate_seconds(cfg, lanes: int) -> float:
  """Training steps plus evaluations (a forward pass: a third of a step's FLOPs)."""
  vocab = cfg.model.vocab_size if cfg.model.vocab_size > 0 else 256
  cfg = cfg.copy_and_resolve_references()
  cfg.model.vocab_size = vocab
  t = cfg.train
  eval_steps = (t.steps // max(t.eval_every, 1) + 1) * t.eval_batches / 3
  return (t.steps + eval_steps) * lanes * flops_per_step(cfg) / ASSUMED_FLOPS_PER_S
