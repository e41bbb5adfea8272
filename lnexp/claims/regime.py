"""Has the model learned its task? The claims v4 criteria on topics: it closes
>= 75% of the context gap and is saturated (docs/claims-analysis.md).

  python -m lnexp.claims.regime WORKDIR   # a pilot's table: each run beside its
                                          # twin at twice the steps
"""
from __future__ import annotations

import sys
from typing import NamedTuple

from absl import flags

from lnexp import cli
from lnexp.errors import ConfigError

MIN_GAP_CLOSED = 0.75
MAX_GAIN = 0.05
# How long and how often: a run's twin at twice the steps may differ in these.
LENGTH_KEYS = ('train.steps', 'train.eval_every', 'train.checkpoint_every', 'train.log_every')


def gap_closed(loss: float, bayes: float, context_free: float) -> float:
  """The fraction of context_free - bayes that `loss` closes (1: the Bayes floor)."""
  return (context_free - loss) / (context_free - bayes)


class Regime(NamedTuple):
  closed: float | None  # fraction of the context gap closed (None: no floors, off topics)
  gain: float | None    # base-length loss minus double-length loss (None: not run)

  @property
  def learned(self) -> bool:
    return ((self.closed is None or self.closed >= MIN_GAP_CLOSED)
            and self.gain is not None and self.gain < MAX_GAIN)


def _has_floors(row: dict) -> bool:
  """Whether the row carries topics' exact floors (None or NaN elsewhere)."""
  return row.get('bayes_loss') is not None and row['bayes_loss'] == row['bayes_loss']


def regime(row: dict, longer: dict | None = None) -> Regime:
  """From the run's result row and, if given, the same run trained twice as long."""
  closed = (gap_closed(row['final_eval_loss'], row['bayes_loss'], row['context_free_loss'])
            if _has_floors(row) else None)
  gain = None if longer is None else row['final_eval_loss'] - longer['final_eval_loss']
  return Regime(closed, gain)


def _steps(row: dict) -> int:
  return row.get('train.steps', row['steps'])


def _swept(row: dict) -> tuple:
  """The row's config values but LENGTH_KEYS, as sortable (key, text) pairs."""
  return tuple(sorted((k, str(v)) for k, v in row.items()
                      if '.' in k and k not in LENGTH_KEYS))


def doubling(rows: list[dict]) -> list[tuple[dict, Regime]]:
  """Each run with its regime against its twin at twice the steps (the same
  values but LENGTH_KEYS), if that ran."""
  by_key = {(_swept(r), _steps(r)): r for r in rows}
  ordered = sorted(rows, key=lambda r: (_swept(r), _steps(r)))
  return [(r, regime(r, by_key.get((_swept(r), 2 * _steps(r))))) for r in ordered]


def closed_at_best(per_seed: dict) -> float | None:
  """The gap the seed-mean loss closes at a variant's best LR (Best.per_seed),
  or None off topics."""
  rows = list(per_seed.values())
  if not rows or not all(map(_has_floors, rows)):
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


def doubling_table(rows: list[dict]) -> str:
  """`doubling` as a markdown table, one line per run."""
  from lnexp.analysis.report import markdown_table
  keys = sorted({k for r in rows for k, _ in _swept(r)
                 if len({str(x.get(k)) for x in rows}) > 1})
  lines = [[*(str(r.get(k)) for k in keys), str(_steps(r)),
            f"{r['final_eval_loss']:.3f}", '-' if g.closed is None else f'{g.closed:.0%}',
            *(('-', '-') if g.gain is None else (f'{g.gain:.3f}', 'yes' if g.learned else 'no'))]
           for r, g in doubling(rows)]
  return markdown_table([*keys, 'steps', 'final eval loss', 'gap closed',
                         'gain from doubling', 'learned'], lines)


def _print_table(fv: flags.FlagValues, dirs: list[str]) -> int:
  from lnexp.runtime.workdir import Workdir
  if len(dirs) != 1:
    raise ConfigError('name one workdir (usage: python -m lnexp.claims.regime WORKDIR)')
  rows = [r for r in Workdir(dirs[0]).finished().values() if r['status'] == 'ok']
  if not rows:
    raise ConfigError(f'{dirs[0]}: no finished runs (results.jsonl)')
  print(doubling_table(rows))
  return 0


def main(argv: list[str] | None = None) -> int:
  return cli.main('lnexp.claims.regime', lambda fv, argv: None, _print_table, argv,
                  positional='WORKDIR')


if __name__ == '__main__':
  sys.exit(main())
