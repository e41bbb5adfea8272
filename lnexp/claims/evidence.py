"""The pieces every verdict rule is made of: run labels, the common reference
loss, best LRs with their grid edges, and paired comparisons with four outcomes.

A rule compares two variants over the seeds both ran (lnexp.claims.stats):
the per-seed difference is oriented so that positive is what the article
predicts, and its 95% paired t-interval against the rule's minimum effect
delta gives supported / contradicted / no effect / inconclusive. A rule made of
several comparisons takes their common outcome, or `mixed` when they differ.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from lnexp.claims import stats

TRAINED, COLLAPSED, DIVERGED = 'trained', 'collapsed', 'diverged'
MIXED = 'mixed'


def label(row) -> str:
  """trained / collapsed (finished without learning: lnexp.measure.labels) / diverged."""
  if row['status'] != 'ok':
    return DIVERGED
  return COLLAPSED if row.get('collapsed') is True else TRAINED


def add_labels(df: pd.DataFrame) -> pd.DataFrame:
  df['label'] = df.apply(label, axis=1) if len(df) else pd.Series(dtype=object)
  ln_v = np.log(df['vocab_size'].astype(float))
  ok = df['status'].eq('ok') & np.isfinite(df['final_eval_loss'].astype(float))
  # A diverged run counts at ln V, the uniform predictor's loss (the common
  # reference of lnexp.analysis.sensitivity); a finished run at its own loss.
  df['loss_or_ln_v'] = np.where(ok, df['final_eval_loss'].astype(float), ln_v)
  return df


def counts(labels) -> str:
  """'trained/collapsed/diverged' counts, e.g. '33/2/0'."""
  labels = list(labels)
  return '/'.join(str(labels.count(k)) for k in (TRAINED, COLLAPSED, DIVERGED))


def trained_only(df: pd.DataFrame, column: str) -> pd.Series:
  """`column` where the run trained, NaN where it collapsed or diverged: a
  diagnostic compares trained runs only (a missing pair makes it inconclusive)."""
  return df[column].where(df['label'].eq(TRAINED))


class Best(NamedTuple):
  lr: float           # best LR by the mean over seeds of the counted loss
  edge: str | None    # 'lowest' / 'highest' when that LR is the grid's end
  per_seed: dict      # seed -> the seed's row at that LR (a dict)
  lrs: tuple          # the grid as run (after extension)


def best_lr(frame: pd.DataFrame) -> Best:
  """One variant's sweep (all seeds): its best LR and whether it sits at an edge."""
  mean = frame.groupby('optim.lr')['loss_or_ln_v'].mean()
  lrs = tuple(sorted(mean.index))
  lr = float(mean.idxmin())
  edge = ('lowest' if lr == lrs[0] else 'highest' if lr == lrs[-1] else None) \
      if len(lrs) > 1 else None
  at = frame[np.isclose(frame['optim.lr'], lr)]
  return Best(lr, edge, {s: r for s, r in zip(at['seed'], at.to_dict('records'))}, lrs)


class Comparison(NamedTuple):
  name: str
  interval: stats.Interval
  outcome: str
  log: bool
  delta: float
  note: str = ''
  label: str = ''  # what tells it from the rule's other comparisons in an effect sentence

  def row(self) -> list[str]:
    return [self.name, fmt_interval(self.interval, self.log),
            (f'x{math.exp(self.delta):.2f}' if self.log else f'{self.delta:g}'),
            f'**{self.outcome}**' + (f' ({self.note})' if self.note else '')]


HEAD = ['comparison (positive: as the article predicts)', 'mean d [95% interval] (n)',
        'min. effect', 'outcome']


def fmt_interval(i: stats.Interval, log: bool = False) -> str:
  """d and its interval; on log scale as the geometric-mean ratio."""
  f = (lambda v: f'x{math.exp(v):.3g}') if log else (lambda v: f'{v:+.3f}')
  if not math.isfinite(i.mean):
    return f'- (n={i.n}, {i.missing} missing)'
  if not math.isfinite(i.low):
    return f'{f(i.mean)} (n={i.n}{f", {i.missing} missing" if i.missing else ""})'
  return f'{f(i.mean)} [{f(i.low)}, {f(i.high)}] (n={i.n})'


def compare(name: str, x: dict, y: dict, delta: float, log: bool = False,
            edge: str | None = None, label: str = '') -> Comparison:
  """d = x - y per seed (log x - log y with log=True); inconclusive when a
  compared variant's best LR sits at a grid edge (`edge` names which)."""
  interval = (stats.log_ratio_interval if log else stats.paired_interval)(x, y)
  outcome = stats.outcome(interval, delta)
  if edge:
    return Comparison(name, interval, stats.INCONCLUSIVE, log, delta,
                      f'{edge}: best LR at a grid edge; would be {outcome}', label)
  return Comparison(name, interval, outcome, log, delta, label=label)


def combine(outcomes: list[str]) -> str:
  """The common outcome of a rule's comparisons, or mixed."""
  if not outcomes:
    return stats.INCONCLUSIVE
  return outcomes[0] if len(set(outcomes)) == 1 else MIXED


def by_seed(frame: pd.DataFrame, column: str) -> dict:
  return dict(zip(frame['seed'], frame[column]))


def stat(values, digits: int = 3) -> str:
  """'mean ± sd (n)' of the finite values."""
  v = [float(x) for x in values if x is not None and np.isfinite(float(x))]
  if not v:
    return '-'
  if len(v) == 1:
    return f'{v[0]:.{digits}f}'
  return f'{np.mean(v):.{digits}f} ± {np.std(v, ddof=1):.{digits}f}'


def median(values, digits: int = 3) -> str:
  """'median (IQR lo-hi)' for heavy-tailed quantities."""
  s = stats.median_iqr(list(values))
  if not s.n:
    return '-'
  return f'{s.median:.{digits}g} ({s.q25:.{digits}g}-{s.q75:.{digits}g})'
