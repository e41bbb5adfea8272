"""The pieces every verdict rule is made of: results loaded with run labels and
the common reference loss, best LRs with their grid edges, paired comparisons
with four outcomes (and Holm over a family), the tables, and the `Finding`
an analysis returns (docs/claims-analysis.md).
"""
from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from lnexp.analysis import report as lr_report
from lnexp.analysis import results
from lnexp.claims import stats
from lnexp.models.archs import ARCHS
from lnexp.models.placements import PLACEMENTS

TRAINED, COLLAPSED, DIVERGED = 'trained', 'collapsed', 'diverged'
MIXED = 'mixed'
LN = ('layernorm-post', 'layernorm-pre')
VARIANT_KEYS = ('model.arch', 'model.norm', 'model.placement', 'model.qk_norm',
                'optim.z_loss', 'model.bn_axes')  # what variant_name reads
SMALL_SCALE = ('small scale: the claims model (~56k parameters, ~0.3M tokens per run, '
               'lnexp.claims.sizes); larger models may behave differently')
LEARNED_SCALE = ('learned size (claims v4): ~0.21M parameters, 2.0M tokens per run '
                 '(lnexp.claims.sizes.learned_config); larger models may behave differently')


@dataclasses.dataclass
class Finding:
  claim: str          # '1'..'13', or '2-lit' for a literature check
  verdict: str        # supported | contradicted | no effect | inconclusive | mixed | ...
  effect: str         # the effect size, one sentence
  tables: list[str]   # markdown, each with a caption line first
  figures: list[str]  # paths relative to the report
  notes: list[str] = dataclasses.field(default_factory=list)


def variant_name(row) -> str:
  """'none', 'rezero', 'layernorm-post', 'layernorm-pre+qk_norm',
  'batchnorm-post/cumulative'."""
  if not ARCHS[row.get('model.arch') or 'albert_gpt'].norm_free_placement:
    return row['model.norm']  # an LSTM or CNN: no placement variants compared
  placement = row['model.placement']
  if row['model.norm'] == 'none':
    return 'none' if PLACEMENTS[placement].moot_without_norm else placement
  name = f"{row['model.norm']}-{placement}"
  if row.get('model.qk_norm') is True:
    name += '+qk_norm'
  if (row.get('optim.z_loss') or 0) > 0:
    name += '+z_loss'
  if row['model.norm'] == 'batchnorm' and row.get('model.bn_axes') != 'batch':
    name += f"/{row['model.bn_axes']}"
  return name


def load(workdir: str, point_ids=None) -> pd.DataFrame:
  """Results rows (of `point_ids` only, if given: the sweep being reported) with
  `variant`, `seed`, `label` (trained/collapsed/diverged) and `loss_or_ln_v`."""
  df = results.load_results(workdir)
  if point_ids is not None:
    df = df[df['point_id'].isin(set(point_ids))].reset_index(drop=True)
  base = results.load_config(workdir)['base']
  for key in (*VARIANT_KEYS, 'data.source', 'data.pack', 'model.share',
              'model.embed_scale', 'model.num_layers', 'train.batch_size'):
    if key not in df:
      df[key] = base.get(key)
    df[key] = df[key].where(df[key].notna(), base.get(key))
  if 'collapsed' not in df:
    df['collapsed'] = None
  df['variant'] = df.apply(variant_name, axis=1).astype(object)
  seeds = results.seed_keys(df)
  df['seed'] = df[seeds].astype(str).agg('/'.join, axis=1) if seeds else '0'
  return add_labels(df)


def metrics_of(workdir: str, df: pd.DataFrame) -> dict[str, pd.DataFrame]:
  return {pid: results.load_metrics(workdir, pid) for pid in df['point_id']}


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


def best_eval_mode(g: pd.DataFrame, variant: str) -> tuple[Best, str]:
  """(Best, the eval mode it is judged on): a BatchNorm variant by the better of
  running and batch statistics at eval, each at its own best LR."""
  running = best_lr(g)
  if not variant.startswith('batchnorm') or g['final_eval_loss_batch_stats'].isna().all():
    return running, 'as run'
  ok = g['status'].eq('ok') & g['final_eval_loss_batch_stats'].notna()
  batch = best_lr(g.assign(loss_or_ln_v=g['final_eval_loss_batch_stats'].where(
      ok, np.log(g['vocab_size'].astype(float)))))
  mean = lambda b: np.mean(list(losses(b).values()))  # noqa: E731
  return (batch, 'batch statistics') if mean(batch) < mean(running) else \
      (running, 'running statistics')


def at_best(*bests: Best) -> pd.DataFrame:
  """The seeds' rows at these best LRs, as one frame."""
  return pd.DataFrame([r for b in bests for r in b.per_seed.values()])


class Comparison(NamedTuple):
  name: str
  interval: stats.Interval
  outcome: str
  log: bool
  delta: float
  note: str = ''
  label: str = ''  # what tells it from the rule's other comparisons in an effect sentence
  primary: bool = True  # False: exploratory, reported beside, no verdict rests on it

  def row(self) -> list[str]:
    return [self.name, fmt_interval(self.interval, self.log),
            (f'x{math.exp(self.delta):.2f}' if self.log else f'{self.delta:g}'),
            f'**{self.outcome}**' + (f' ({self.note})' if self.note else '')]

  def rows(self) -> list[list[str]]:
    return [self.row()]

  @property
  def p(self) -> float:
    """stats.p_value; 1 unless supported or contradicted (nothing was tested)."""
    decisive = self.outcome in (stats.SUPPORTED, stats.CONTRADICTED)
    return stats.p_value(self.interval, self.delta) if decisive else 1.0


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
            edge: str | None = None, label: str = '', primary: bool = True) -> Comparison:
  """d = x - y per seed (log x - log y with log=True); inconclusive when a
  compared variant's best LR sits at a grid edge (`edge` names which)."""
  interval = (stats.log_ratio_interval if log else stats.paired_interval)(x, y)
  outcome, note = stats.outcome(interval, delta), ''
  if edge:
    outcome, note = stats.INCONCLUSIVE, f'{edge}: best LR at a grid edge; would be {outcome}'
  return Comparison(name, interval, outcome, log, delta, note, label, primary)


def family(comparisons: list, alpha: float = 0.05) -> list:
  """The comparisons (or scoring.Robust ones) with Holm over the primary ones:
  a decisive one whose adjusted p is >= alpha becomes inconclusive."""
  adjusted = iter(stats.holm([c.p for c in comparisons if c.primary]))
  out = []
  for c in comparisons:
    if not c.primary:
      out.append(c._replace(note=join_notes(c.note, 'exploratory: no verdict rests on it')))
      continue
    p = next(adjusted)
    if c.outcome not in (stats.SUPPORTED, stats.CONTRADICTED):
      out.append(c)
    elif p < alpha:
      out.append(c._replace(note=join_notes(c.note, f'Holm p = {p:.2g}')))
    else:
      out.append(c._replace(outcome=stats.INCONCLUSIVE, note=join_notes(
          c.note, f'Holm p = {p:.2g} >= {alpha:g}; unadjusted {c.outcome}')))
  return out


def join_notes(*notes: str) -> str:
  """Notes of a table cell, the empty ones left out."""
  return '; '.join(n for n in notes if n)


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


def table(caption: str, head: list[str], rows: list[list[str]]) -> str:
  return caption + '\n\n' + lr_report.markdown_table(head, rows)


def comparisons_table(caption: str, comparisons: list) -> str:
  """Comparisons (and scoring.Robust ones, three scorings and their verdict) as rows."""
  return table(caption, HEAD, [row for c in comparisons for row in c.rows()])


def edge(*bests: Best) -> str | None:
  """Which compared variants' best LRs sit at an edge of their grids, if any."""
  return '; '.join(f'{b.edge} of {b.lrs[0]:g}..{b.lrs[-1]:g}' for b in bests if b.edge) \
      or None


def best_cell(b: Best) -> str:
  """A best LR for a table, e.g. '0.01' or '0.3 (highest edge)'."""
  return f'{b.lr:g}' + (f' ({b.edge} edge)' if b.edge else '')


def reproduced(outcome: str, predicted: str) -> str:
  """A literature check's verdict: reproduced, inconclusive or not reproduced."""
  if outcome == predicted:
    return 'reproduced'
  if outcome == 'inconclusive':
    return outcome
  return 'inconclusive (mixed)' if outcome == 'mixed' else f'not reproduced ({outcome})'


def growth(rms) -> float:
  """RMS after the last block / after the first (NaN if either is not finite)."""
  if rms is None or not np.isfinite(rms[[0, -1]]).all() or rms[0] <= 0:
    return math.nan
  return float(rms[-1] / rms[0])


def difference(x: dict, y: dict) -> dict:
  """x - y per seed over the seeds of either; None where one is missing."""
  return {s: (x[s] - y[s] if s in x and s in y and x[s] is not None and y[s] is not None
              else None) for s in set(x) | set(y)}


def losses(best: Best) -> dict:
  """Per seed: the counted loss at the best LR."""
  return {s: r['loss_or_ln_v'] for s, r in best.per_seed.items()}


def best_losses(df: pd.DataFrame, by: list[str]) -> tuple[dict, list[list[str]]]:
  """Per group of `by` (variant first): its Best and table rows."""
  best, rows = {}, []
  for key, g in df.groupby(by, sort=False):
    b = best[key] = best_lr(g)
    rows.append([*map(str, key), counts(g['label']), best_cell(b),
                 stat([r['loss_or_ln_v'] for r in b.per_seed.values()])])
  return best, rows
