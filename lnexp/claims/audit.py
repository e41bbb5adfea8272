"""Checks across the suite's results that no single rule makes (issue 34): LR
sweeps with their best trained run at a grid edge, and cells whose median
initial loss sits far from ln V. Sweep and cell: docs/claims-analysis.md.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import pandas as pd

from lnexp.analysis import results
from lnexp.claims import evidence

MIN_LRS = 4        # a sweep of fewer LRs is not counted for edges
EDGE_LIMIT = 0.1   # at most this fraction of sweeps with the best at an edge
INIT_LIMIT = 0.7   # nats: median initial loss within this of ln V in every cell


def load(workdir: str, point_ids=None) -> pd.DataFrame:
  """evidence.load's rows, with `optim.lr` where the sweep does not set it and
  `cell`: the variant and the other swept keys but the LR and the seeds."""
  df = evidence.load(workdir, point_ids)
  config = results.load_config(workdir)
  if results.LR_KEY not in df:
    df[results.LR_KEY] = config['base'].get(results.LR_KEY)
  keys = [k for k in results.swept_keys(config)
          if k not in (results.LR_KEY, *results.SEED_KEYS, *evidence.VARIANT_KEYS)]
  df['cell'] = df.apply(lambda r: ', '.join([r['variant']] + [f'{k}={r[k]}' for k in keys]),
                        axis=1) if len(df) else pd.Series(dtype=object)
  return df


class Edges(NamedTuple):
  at_edge: int     # sweeps whose best trained run is at the lowest or highest LR
  sweeps: int      # sweeps of >= MIN_LRS learning rates
  untrained: int   # of those, sweeps in which no run trained (no best to place)
  where: list      # [experiment, cell, seed, best LR, 'lowest' / 'highest'] per edge

  @property
  def fraction(self) -> float:
    return self.at_edge / self.sweeps if self.sweeps else math.nan


def edges(frames: dict[str, pd.DataFrame], min_lrs: int = MIN_LRS) -> Edges:
  """The sweeps (`load`) of at least `min_lrs` LRs whose best trained run sits
  at the grid's lowest or highest LR."""
  where, sweeps, untrained = [], 0, 0
  for name, df in frames.items():
    for (cell, seed), g in df.groupby(['cell', 'seed'], sort=False):
      lrs = sorted(g[results.LR_KEY].unique())
      if len(lrs) < min_lrs:
        continue
      sweeps += 1
      trained = g[g['label'].eq(evidence.TRAINED) & g['final_eval_loss'].notna()]
      if not len(trained):
        untrained += 1
        continue
      lr = trained.loc[trained['final_eval_loss'].idxmin(), results.LR_KEY]
      if lr in (lrs[0], lrs[-1]):
        where.append([name, cell, seed, lr, 'lowest' if lr == lrs[0] else 'highest'])
  return Edges(len(where), sweeps, untrained, where)


def initial_gaps(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
  """Per experiment and cell: runs, and median initial loss minus ln V, largest first."""
  rows = [[name, cell, len(g), g['init_loss'].median() - math.log(g['vocab_size'].iloc[0])]
          for name, df in frames.items() for cell, g in df.groupby('cell', sort=False)]
  gaps = pd.DataFrame(rows, columns=['experiment', 'cell', 'runs', 'gap'])
  return gaps.sort_values('gap', ascending=False, kind='stable').reset_index(drop=True)


def section(frames: dict[str, pd.DataFrame], edge_limit: float = EDGE_LIMIT,
            init_limit: float = INIT_LIMIT) -> list[str]:
  """The report's section: both checks, and the sweeps and cells that miss them."""
  e, gaps = edges(frames), initial_gaps(frames).dropna(subset=['gap'])
  over = gaps[gaps['gap'].abs() > init_limit]
  at_edge = (f'{e.at_edge} of {e.sweeps} sweeps of at least {MIN_LRS} learning rates '
             f'({e.fraction:.0%}) have their best trained run at the lowest or highest LR '
             f'of their grid (limit {edge_limit:.0%}: '
             f'{"met" if e.fraction <= edge_limit else "missed"}); in {e.untrained} of them '
             'no run trained' if e.sweeps else f'No sweep has {MIN_LRS} learning rates')
  worst = over.loc[over['gap'].abs().idxmax()] if len(over) else None
  initial = (f'{len(over)} of {len(gaps)} cells have a median initial loss more than '
             f'{init_limit:g} nats from ln V (limit: none'
             + (f'; worst {worst.gap:+.2f}, {worst.experiment}: {worst.cell}'
                if worst is not None else '') + ')')
  md = ['## Grid edges and initial losses', '',
        'A sweep is one experiment\'s runs of one variant, seed and setting of the other '
        'factors over its LR grid; a cell is the same over every seed and LR. ln V is the '
        'uniform predictor\'s loss, where a fair start begins (guide: research standards).',
        '', f'**Best LR at a grid edge.** {at_edge}.', '', f'**Initial loss.** {initial}.', '']
  if e.where:
    md += [evidence.table('Sweeps whose best trained run is at a grid edge.',
                          ['experiment', 'sweep', 'seed', 'best LR', 'edge'],
                          [[n, c, str(s), f'{lr:g}', at] for n, c, s, lr, at in e.where]), '']
  if len(over):
    md += [evidence.table(f'Cells whose median initial loss is more than {init_limit:g} '
                          'nats from ln V, largest first.',
                          ['experiment', 'cell', 'runs', 'median initial loss − ln V'],
                          [[r.experiment, r.cell, str(r.runs), f'{r.gap:+.2f}']
                           for r in over.itertuples()]), '']
  return md
