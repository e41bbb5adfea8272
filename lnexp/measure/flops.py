"""Model FLOPs of a training step (Kaplan et al. 2020; PaLM, Chowdhery et al. 2022),
and the planner's step time from them. Each arch counts its own (`Arch.costs`).
"""
from __future__ import annotations

from lnexp.models.archs import ARCHS

# Plan estimates only (docs/performance.md, "Planner constants"); lnexp.bench measures.
ASSUMED_FLOPS_PER_S = 95e9
# Seconds per block (depth step) of one lane's training step beyond its FLOPs: the
# block's kernel launches and the depth loop, most of a deep, narrow model's step.
BLOCK_S = 100e-6


def flops_per_step(cfg) -> float:
  """Training FLOPs of one step of one lane."""
  return ARCHS[cfg.model.arch].costs(cfg)['flops']


def estimate_seconds(cfg, lanes: int) -> float:
  """Training steps plus evaluations (a forward pass: a third of a step) of
  `lanes` lanes one after another: FLOPs at ASSUMED_FLOPS_PER_S, BLOCK_S a block."""
  vocab = cfg.model.vocab_size if cfg.model.vocab_size > 0 else 256
  cfg = cfg.copy_and_resolve_references()
  cfg.model.vocab_size = vocab
  t, costs = cfg.train, ARCHS[cfg.model.arch].costs(cfg)
  eval_steps = (t.steps // max(t.eval_every, 1) + 1) * t.eval_batches / 3
  step = costs['flops'] / ASSUMED_FLOPS_PER_S + BLOCK_S * costs.get('blocks', 0)
  return (t.steps + eval_steps) * lanes * step
