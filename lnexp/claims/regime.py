"""Has the model learned its task? The claims v4 criteria on topics: it closes
>= 75% of the context gap and is saturated (docs/claims-analysis.md).
"""
from __future__ import annotations

from typing import NamedTuple

MIN_GAP_CLOSED = 0.75
MAX_GAIN = 0.05


def gap_closed(loss: float, bayes: float, context_free: float) -> float:
  """The fraction of context_free - bayes that `loss` closes (1: the Bayes floor)."""
  return (context_free - loss) / (context_free - bayes)


class Regime(NamedTuple):
  closed: float       # fraction of the context gap closed at the base length
  gain: float | None  # base-length loss minus double-length loss (None: not run)

  @property
  def learned(self) -> bool:
    return self.closed >= MIN_GAP_CLOSED and self.gain is not None and \
        self.gain < MAX_GAIN


def regime(row: dict, longer: dict | None = None) -> Regime:
  """From the run's result row and, if given, the same run trained twice as long."""
  closed = gap_closed(row['final_eval_loss'], row['bayes_loss'], row['context_free_loss'])
  gain = None if longer is None else row['final_eval_loss'] - longer['final_eval_loss']
  return Regime(closed, gain)


def closed_at_best(per_seed: dict) -> float | None:
  """The gap the seed-mean loss closes at a variant's best LR (Best.per_seed),
  or None off topics."""
  rows = list(per_seed.values())
  if not rows or any(r.get('bayes_loss') is None or r['bayes_loss'] != r['bayes_loss']
                     for r in rows):
    return None
  mean = lambda key: sum(r[key] for r in rows) / len(rows)  # noqa: E731
  return gap_closed(mean('loss_or_ln_v'), mean('bayes_loss'), mean('context_free_loss'))


def scale_note(scale: str, closed: list, who: str = 'Post-LN') -> tuple[str, str]:
  """(verdict suffix, the scale line): "early training" when any of `closed` < 75%
  (None: not measured)."""
  closed = [x for x in closed if x is not None]
  if not closed:
    return '', scale
  early = min(closed) < MIN_GAP_CLOSED
  return (' (early training)' if early else '',
          f'{scale}. {who} at its best LR closed ' + ', '.join(f'{x:.0%}' for x in closed)
          + ' of the topics context gap' + (' (< 75%: early training).' if early else '.'))
