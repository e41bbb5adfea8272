"""Verdicts robust to scoring: an LR-sensitivity comparison judged under three
scorings of failed runs fixed before the run (failures at ln V, at the unigram
entropy, stable LRs), *fragile* unless they agree (docs/claims-analysis.md).
"""
from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from lnexp.analysis import sensitivity
from lnexp.claims import evidence, regime, stats

AT_LN_V, AT_UNIGRAM, STABLE = (
    'LR sensitivity, failures at ln V', 'LR sensitivity, failures at the unigram entropy',
    f'stable LRs (within {sensitivity.DEFAULT_TOLERANCE:g} nats of the best)')
SCORINGS = (AT_LN_V, AT_UNIGRAM, STABLE)
FRAGILE = 'fragile'


class Scores(NamedTuple):
  """One variant's per-seed scores (seed -> value), one mapping per scoring."""
  at_ln_v: dict
  at_unigram: dict
  stable_lrs: dict
  stable_decades: dict  # stable LRs x the grid's step in decades


def _one(values: pd.Series) -> float:
  """The value one seed's sweep shares (vocabulary, eval set); NaN if none is given."""
  v = pd.to_numeric(values, errors='coerce').dropna().unique()
  if len(v) > 1:
    raise ValueError(f'one sweep of one seed has one {values.name}, got {sorted(v)}')
  return float(v[0]) if len(v) else float('nan')


def scores(frame: pd.DataFrame) -> Scores:
  """Per seed, one variant's sweep (evidence.load's rows at every LR) scored
  three ways; failed = not trained."""
  out = Scores({}, {}, {}, {})
  for seed, g in frame.groupby('seed', sort=False):
    lrs, losses = g['optim.lr'].tolist(), g['final_eval_loss'].tolist()
    failed = g['label'].ne(evidence.TRAINED).tolist()
    vocab = int(_one(g['vocab_size']))
    out.at_ln_v[seed] = sensitivity.lr_sensitivity(lrs, losses, vocab,
                                                   diverged=failed).common
    out.at_unigram[seed] = sensitivity.lr_sensitivity(
        lrs, losses, vocab, diverged=failed, reference=_one(g['unigram_entropy'])).common
    out.stable_lrs[seed] = sensitivity.stable_lrs(losses, failed)
    out.stable_decades[seed] = out.stable_lrs[seed] * sensitivity.grid_step(lrs)
  return out


def difference(a: Scores, b: Scores) -> Scores:
  """a - b per seed under every scoring: the arm of an interaction."""
  return Scores(*(evidence.difference(x, y) for x, y in zip(a, b)))


def combine(outcomes: list[str]) -> str:
  """The scorings' common outcome; fragile when they differ."""
  return outcomes[0] if len(set(outcomes)) == 1 else FRAGILE


class Robust(NamedTuple):
  """A comparison under the three scorings and its outcome across them."""
  name: str
  comparisons: tuple       # evidence.Comparison per scoring, in SCORINGS order
  outcome: str             # their common outcome, or fragile
  label: str = ''
  primary: bool = True
  note: str = ''

  def rows(self) -> list[list[str]]:
    """The three scorings' rows, then the outcome they make together."""
    return [c.row() for c in self.comparisons] + [
        [f'{self.name}: ' + ('all three scorings' if len(self.comparisons) == 3
                              else 'every scoring'), '-', '-',
         f'**{self.outcome}**' + (f' ({self.note})' if self.note else '')]]

  @property
  def p(self) -> float:
    """The largest of the three p-values (an intersection-union test); 1
    unless supported or contradicted."""
    if self.outcome not in (stats.SUPPORTED, stats.CONTRADICTED):
      return 1.0
    return max(c.p for c in self.comparisons)


def compare(name: str, x: Scores, y: Scores, delta: float, delta_lrs: float,
            edge: str | None = None, label: str = '', primary: bool = True) -> Robust:
  """x (the variant the article calls more LR-sensitive) against y under the
  three scorings: minimum effect `delta` nats, `delta_lrs` LRs for stable LRs."""
  at_ln_v = evidence.compare(f'{name}: {AT_LN_V}', x.at_ln_v, y.at_ln_v, delta, edge=edge)
  at_unigram = evidence.compare(f'{name}: {AT_UNIGRAM}', x.at_unigram, y.at_unigram, delta,
                                edge=edge)
  stable = evidence.compare(f'{name}: {STABLE}', y.stable_lrs, x.stable_lrs, delta_lrs,
                            edge=edge)
  decades = stats.paired_interval(y.stable_decades, x.stable_decades)
  stable = stable._replace(note=evidence.join_notes(
      stable.note, f'in decades {evidence.fmt_interval(decades)}'))
  parts = (at_ln_v, at_unigram, stable)
  return Robust(name, parts, combine([c.outcome for c in parts]), label, primary)


def interaction(df: pd.DataFrame, factor: str, levels: tuple[str, str], claim: str,
                caption: str, reading: str) -> list[evidence.Finding]:
  """Claims 11 and 12: LayerNorm's effect on LR sensitivity at level a of
  `factor` against level b, under the three scorings. `caption` heads the
  per-cell table; `reading` says what a positive interaction means."""
  cells = {key: g for key, g in df.groupby(['variant', factor], sort=False)}
  best = {key: evidence.best_lr(g) for key, g in cells.items()}
  scored = {key: scores(g) for key, g in cells.items()}
  rows = [[v, level, evidence.counts(cells[(v, level)]['label']), evidence.best_cell(b),
           evidence.stat(scored[(v, level)].at_ln_v.values()),
           evidence.stat(scored[(v, level)].at_unigram.values()),
           evidence.stat(scored[(v, level)].stable_lrs.values(), 1)]
          for (v, level), b in best.items()]
  judged, beside = [], []
  if all(('none', x) in scored and ('layernorm-post', x) in scored for x in levels):
    gap = {x: difference(scored[('none', x)], scored[('layernorm-post', x)]) for x in levels}
    judged = [compare('interaction', gap[levels[0]], gap[levels[1]], 0.05, 1,
                      edge=evidence.edge(*best.values()))]
    zero = Scores(*({k: 0.0 for k in x} for x in gap[levels[0]]))
    beside = [compare(f'S(none) - S(post-LN), {x}', gap[x], zero, 0.05, 1, primary=False)
              for x in levels]
  post = best.get(('layernorm-post', levels[0]))
  closed = regime.closed_at_best(post.per_seed) if post else None
  early, scale = regime.scale_note(evidence.LEARNED_SCALE, [closed])
  verdict = judged[0].outcome if judged else 'inconclusive'
  return [evidence.Finding(
      claim, verdict + early, '; '.join(
          f'{c.name}: {evidence.fmt_interval(c.interval)}' for r in judged
          for c in r.comparisons),
      [evidence.table(caption + ': runs trained/collapsed/diverged; best LR (seed-mean; an '
                      'edge: not bracketed after extension); LR sensitivity with failures at '
                      'ln V and at the unigram entropy; stable LRs (mean ± sd).',
                      ['variant', factor, 'trained/collapsed/diverged', 'best LR',
                       'S (failures at ln V)', 'S (failures at H)', 'stable LRs'], rows),
       evidence.comparisons_table("The rule's interaction under its three scorings "
                                  f'(positive: {reading}), and the difference at each '
                                  f'{factor} beside it.', judged + evidence.family(beside))],
      [], [scale])]
