"""Learning-rate sensitivity with a common reference loss, stable decades, grid edges.

Wortsman et al. (2023) charge a diverged run at its own initial loss, which
favours a variant that starts well; the common reference charges it at ln V,
the same for every variant of a dataset (docs/claims-analysis.md).
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

DEFAULT_TOLERANCE = 0.1  # nats/token; also lnexp.analysis.report's --tolerance default


class Sensitivity(NamedTuple):
  common: float          # E_lr[min(loss, ln V)] - best, diverged at ln V
  wortsman: float        # E_lr[min(loss, L0)] - best, diverged at own L0 (NaN without L0)
  best_lr: float
  best_loss: float
  stable_decades: float
  edge: str | None       # 'lowest' / 'highest' grid LR is the best; None if interior
  diverged: int
  reference: float       # ln V

  @property
  def at_edge(self) -> bool:
    return self.edge is not None

  @property
  def flag(self) -> str:
    return f'best at grid edge ({self.edge} LR)' if self.edge else ''


def _number(v) -> float:
  return float(v) if v is not None and math.isfinite(float(v)) else math.nan


def lr_sensitivity(lrs: Sequence[float], losses: Sequence[float | None],
                   vocab_size: int, init_losses: Sequence[float | None] | None = None,
                   diverged: Sequence[bool] | None = None,
                   tolerance: float = DEFAULT_TOLERANCE,
                   reference: float | None = None) -> Sensitivity:
  """LR sensitivity of one sweep (one variant, one seed, one dataset). losses:
  final eval loss per LR (None / NaN / inf: diverged); diverged: explicit flags;
  init_losses: each run's L0, for Wortsman et al.'s version; reference: what a
  failed run counts at instead of ln V. Nothing learned: all NaN but `diverged`."""
  lr = np.asarray(lrs, dtype=float)
  if lr.ndim != 1 or not len(lr) or len(set(lr.tolist())) != len(lr) or (lr <= 0).any():
    raise ValueError(f'the LR grid must be distinct positive numbers, got {list(lrs)}')
  if len(losses) != len(lr) or (init_losses is not None and len(init_losses) != len(lr)):
    raise ValueError('one loss (and init loss) per LR')
  loss = np.array([_number(v) for v in losses])
  dead = ~np.isfinite(loss)
  if diverged is not None:
    dead |= np.asarray(diverged, dtype=bool)
  order = np.argsort(lr)
  lr, loss, dead = lr[order], loss[order], dead[order]
  ref = math.log(vocab_size) if reference is None else float(reference)
  common = np.where(dead, ref, np.minimum(loss, ref))
  learned = ~dead & (loss < ref)
  if not learned.any():
    return Sensitivity(math.nan, math.nan, math.nan, math.nan, math.nan, None,
                       int(dead.sum()), ref)
  best_i = int(np.argmin(np.where(learned, loss, np.inf)))
  best = float(loss[best_i])
  wortsman = math.nan
  if init_losses is not None:
    l0 = np.array([_number(v) for v in init_losses])[order]
    if np.isfinite(l0).all():
      own = np.where(dead, l0, np.minimum(loss, l0))
      wortsman = float(own.mean() - own.min())
  stable = ~dead & (loss <= best + tolerance)
  lo = hi = best_i
  while lo > 0 and stable[lo - 1]:
    lo -= 1
  while hi < len(lr) - 1 and stable[hi + 1]:
    hi += 1
  edge = 'lowest' if best_i == 0 else 'highest' if best_i == len(lr) - 1 else None
  return Sensitivity(float(common.mean() - best), wortsman, float(lr[best_i]), best,
                     float(math.log10(lr[hi] / lr[lo])), edge, int(dead.sum()), ref)


def stable_lrs(losses: Sequence[float | None], failed: Sequence[bool],
               tolerance: float = DEFAULT_TOLERANCE) -> int:
  """How many runs of one sweep train (not `failed`: diverged or collapsed) to
  within `tolerance` nats of the sweep's best trained loss; 0 when none trains."""
  if len(losses) != len(failed):
    raise ValueError('one failed flag per loss')
  loss = np.array([_number(v) for v in losses])
  ok = ~np.asarray(failed, dtype=bool) & np.isfinite(loss)
  return int((ok & (loss <= loss[ok].min() + tolerance)).sum()) if ok.any() else 0


def grid_step(lrs: Sequence[float]) -> float:
  """The grid's mean step in decades, log10(max / min) / (points - 1); 0 for one LR."""
  lr = sorted({float(v) for v in lrs})
  return math.log10(lr[-1] / lr[0]) / (len(lr) - 1) if len(lr) > 1 else 0.0


def from_rows(rows) -> Sensitivity:
  """`lr_sensitivity` of one sweep's result rows (dicts, or a DataFrame): status
  != 'ok' is diverged; ln V from the rows' `vocab_size`."""
  rows = rows.to_dict('records') if hasattr(rows, 'to_dict') else list(rows)
  vocab = {r['vocab_size'] for r in rows}
  if len(vocab) != 1:
    raise ValueError(f'one sweep has one vocabulary, got vocab_size {sorted(vocab)}')
  return lr_sensitivity([r['optim.lr'] for r in rows], [r['final_eval_loss'] for r in rows],
                        vocab.pop(), [r.get('init_loss') for r in rows],
                        [r['status'] != 'ok' for r in rows])
