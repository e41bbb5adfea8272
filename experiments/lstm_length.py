"""Claims 17 and 20: LSTMs on variable-length rows, and how fast they converge.

  python -m lnexp.run --config experiments/lstm_length.py[:quick|:full]

The LSTM language model of claim 8 (lnexp.models.lstm: one layer, hidden 64,
embedding 64; batch 16 x 64 tokens, 300 AdamW steps with 5% warm-up) with the
fair start of claims v4 (output layer initialised at zero: every variant
starts at ln V) on `topics` (documents of mean length 48 from one of 4
latent Markov chains: the state must carry the topic across time), in a 2 x 3
design: packed rows (data.pack=True, every position a real token) vs padded
rows (one document per row from BOS, PAD after its end: variable length) x no
norm, LayerNorm (Ba et al. 2016) and per-time-step BatchNorm (Cooijmans et
al. 2016; padding enters neither its statistics nor the loss); peak LR 3e-3,
1e-2, 3e-2, 1e-1 (a best LR at an edge grows the grid by a step, twice at
most), 5 seeds; eval on 64 batches (65,536 tokens) every 25 steps; eval loss
by position in the document at the end (lnexp.measure.positions). Early training by
design (v3's LSTM size); the rule checks the topics criterion on its own
LayerNorm runs.

Metrics:
- 20: best final eval loss over the LR grid (a diverged run at ln V); BatchNorm
  scored at eval with running and with each eval batch's own statistics, each
  at its best LR, and judged on the better (claim 7 v4's fix).
- 17: steps to a target loss (the convergence speed Ba et al. 2016 report for
  LN-LSTMs): per seed and row layout, the target is the higher of no norm's
  and LayerNorm's final eval loss at their best LRs (a loss both reach); a
  run's steps are the first eval step whose eval loss is at or below it.

--- rule claims-17-20-v4 ---
Verdict rules, fixed before running (claims v4), over 5 seeds, 95% paired
t-intervals, each variant at its best LR (seed mean of final eval loss, a
diverged run at ln V; a best LR at an edge of its grid after extension makes
a comparison inconclusive). Each claim's two primary
comparisons are one family: a supported or contradicted one whose
Holm-adjusted p is >= 0.05 becomes inconclusive; the verdict is their common
outcome, else mixed, named "early training" if LayerNorm on packed rows at
its best LR closes less than 75% of the gap between the previous-token loss
and the Bayes floor (seed mean).
- Claim 20 ("in RNNs processing variable-length sequences, BatchNorm can
  disrupt temporal dependencies, whereas LayerNorm operates independently of
  the batch dimension"): d(layout) = loss(BatchNorm, the better of its two
  eval modes) - loss(LayerNorm) (positive: LayerNorm better); primary: d on
  padded rows, and the interaction d(padded) - d(packed) per seed (positive:
  the gap is due to variable length); minimum effect delta = 0.03 nats for
  both (claim 7's; the unpaired seed sd of an LSTM's best loss in claim 8's
  runs, 0.07-0.10, is mostly the data seed both variants share, which
  pairing removes). Beside, no verdict: d on packed rows, and the eval loss
  minus the Bayes loss by position in the document on padded rows (figure).
- Claim 17 ("more efficient training, as evidenced by faster convergence
  rates"): on packed and on padded rows, d = log steps(no norm) - log
  steps(LayerNorm) to the seed's target loss (positive: LayerNorm faster; a
  pair with a run that did not train at its best LR is missing, which makes
  the comparison inconclusive),
  minimum effect delta = log 1.25 (chosen, not calibrated: no earlier run
  measured this; evaluations every 25 of 300 steps).
--- end rule ---
"""
import math
import os

import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Change, Claim, Quote
from lnexp.models.validate import with_arch

ORDER = 14
VERSION = 4
RUNTIME = ('120 points of v3\'s LSTM size (no grid extension needed), run across two '
           'sessions beside other suite processes on a 2-core CPU (2026-12-07; the last 28 in '
           '6.5 minutes).')
FASTER = Quote('This results in more efficient training, as evidenced by faster convergence '
               'rates', '17', 'no source given; Ba et al. 2016 report faster convergence of '
               'LayerNorm LSTMs')
RNN_BATCHNORM = Quote('For instance, in RNNs processing variable-length sequences, BatchNorm '
                      'can disrupt temporal dependencies, whereas LayerNorm operates '
                      'independently of the batch dimension.', '20',
                      'Cooijmans et al. 2016 train BatchNorm LSTMs well with per-time-step '
                      'statistics')
QUOTES = (FASTER, RNN_BATCHNORM)
CLAIMS = {'17': Claim('LSTMs: faster convergence', FASTER.text),
          '20': Claim('LSTMs: BatchNorm on variable-length rows', RNN_BATCHNORM.text)}
CHANGES = (
    Change('claim 17 (new; "faster convergence", v3: in claim 8\'s section)', 'shown beside '
           'claim 8 in the coverage table, never measured', 'steps to a target eval loss, '
           'packed and padded rows, 5 seeds', 'issue 34 (the review found it unmeasured)'),
    Change('claim 20 (new)', 'not tested: no variable-length RNN data', 'LSTM on padded vs '
           'packed topics rows x BatchNorm vs LayerNorm, 5 seeds', 'issue 34: test what the '
           'instruments already measure'))

VARIANTS = ({'model.norm': 'none'}, {'model.norm': 'layernorm'},
            {'model.norm': 'batchnorm'})
LRS = (3e-3, 1e-2, 3e-2, 1e-1)
LOSS_DELTA, STEPS_DELTA = 0.03, math.log(1.25)
SCALE = ('small scale: claim 8\'s LSTM (~39k parameters, ~0.3M tokens per run); larger '
         'models may behave differently')


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = with_arch(sizes.claims_config(size), 'lstm')
  c.model.unembed_init = 0.0  # the fair start of v4
  c.data.source = 'topics'
  c.optim.lr_extend = sizes.lr_extend(size)
  c.diagnostics.position_losses = True
  if size in ('core', 'full'):
    c.train.eval_every, c.train.eval_batches = 25, 64
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  if size == 'smoke':
    return [{**VARIANTS[2], 'data.pack': False, 'optim.lr': 1e-2}]
  lrs = (1e-2, 3e-2) if size == 'quick' else LRS
  return [{**v, 'data.pack': pack, 'optim.lr': lr, **seed} for v in VARIANTS
          for pack in (True, False) for lr in lrs for seed in sizes.seeds(size, headline=True)]


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claims 17 and 20: convergence speed and BatchNorm vs LayerNorm by row layout."""
  from lnexp.claims import evidence as ev  # the report's extra: running needs none of it
  from lnexp.claims import regime
  df = ev.load(workdir, point_ids)
  metrics = ev.metrics_of(workdir, df)
  df['data'] = np.where(df['data.pack'].astype(bool), 'packed', 'padded')
  best, rows = {}, []
  for (variant, data), g in df.groupby(['variant', 'data'], sort=False):
    b, mode = best[(variant, data)] = ev.best_eval_mode(g, variant)
    rows.append([variant, data, ev.counts(g['label']), mode, ev.best_cell(b),
                 ', '.join(f'{x:g}' for x in b.lrs), ev.stat(ev.losses(b).values())])
  loss = lambda v, d: ev.losses(best[(v, d)][0]) if (v, d) in best else {}  # noqa: E731
  edge = lambda *keys: ev.edge(*(best[k][0] for k in keys if k in best))  # noqa: E731
  ln, bn = 'layernorm', 'batchnorm'
  layout = {d: ev.compare(f'{d}: loss(BatchNorm) - loss(LayerNorm)', loss(bn, d), loss(ln, d),
                          LOSS_DELTA, edge=edge((bn, d), (ln, d)), label=f'{d} rows',
                          primary=d == 'padded') for d in ('padded', 'packed')}
  interaction = ev.compare('d(padded) - d(packed)', ev.difference(loss(bn, 'padded'),
                                                                  loss(ln, 'padded')),
                           ev.difference(loss(bn, 'packed'), loss(ln, 'packed')), LOSS_DELTA,
                           edge=edge(*((v, d) for v in (bn, ln) for d in ('padded', 'packed'))),
                           label='interaction')
  batchnorm = ev.family([layout['padded'], interaction, layout['packed']])
  speed = ev.family([steps_comparison(df, metrics, best, d) for d in ('packed', 'padded')])
  packed_ln = best.get((ln, 'packed'))
  closed = regime.closed_at_best(packed_ln[0].per_seed) if packed_ln else None
  early, scale = regime.scale_note(SCALE, [closed], 'LayerNorm')
  per_variant = ev.table(
      'Per variant and row layout: runs trained/collapsed/diverged over the grid; the eval '
      'mode it is judged on (BatchNorm: the better of running and batch statistics); best LR '
      '(seed mean; an edge: not bracketed after extension) and the grid as run; final eval '
      'loss there (mean ± sd).', ['variant', 'rows', 'trained/collapsed/diverged',
                                  'judged on', 'best LR', 'grid', 'final eval loss'], rows)
  return [
      ev.Finding('17', ev.combine([c.outcome for c in speed]) + early,
                 'd = log steps(none) - log steps(LayerNorm) to the loss both reach: ' +
                 '; '.join(f'{c.label} {ev.fmt_interval(c.interval, log=True)} {c.outcome}'
                           for c in speed),
                 [per_variant, ev.comparisons_table('The rule\'s comparisons (d > 0: '
                                                    'LayerNorm faster).', speed)],
                 curves_figure(df, metrics, best, os.path.join(figdir, 'eval_curves.png')),
                 [scale]),
      ev.Finding('20', ev.combine([c.outcome for c in batchnorm if c.primary]) + early,
                 'd = loss(BatchNorm) - loss(LayerNorm): ' + '; '.join(
                     f'{c.label} {ev.fmt_interval(c.interval)} {c.outcome}'
                     for c in batchnorm),
                 [per_variant, ev.comparisons_table(
                     'The rule\'s comparisons (padded rows and the interaction; d > 0: '
                     'LayerNorm better, by more on variable-length rows) and packed rows '
                     'beside.', batchnorm)],
                 position_figure(df, best, os.path.join(figdir, 'excess_by_position.png')),
                 [scale])]


def steps_to(m, target: float) -> float:
  """The first eval step whose eval loss is <= target (NaN if none)."""
  if target is None or not math.isfinite(target) or 'eval_loss' not in m:
    return math.nan
  evals = m[m['eval_loss'].notna()]
  reached = evals[evals['eval_loss'].astype(float) <= target]['step']
  return float(reached.iloc[0]) if len(reached) else math.nan


def steps_comparison(df, metrics, best, data: str):
  """Claim 17 on one row layout: steps of no norm and LayerNorm to the seed's target."""
  from lnexp.claims import evidence as ev
  runs = {v: best[(v, data)][0].per_seed for v in ('none', 'layernorm') if (v, data) in best}
  if len(runs) < 2:
    return ev.compare(f'{data}: log steps(none) - log steps(LayerNorm)', {}, {}, STEPS_DELTA,
                      label=f'{data} rows')
  steps = {v: {} for v in runs}
  for seed in set(runs['none']) | set(runs['layernorm']):
    pair = {v: runs[v].get(seed) for v in runs}
    ok = all(r is not None and r['label'] == ev.TRAINED for r in pair.values())
    target = max(r['final_eval_loss'] for r in pair.values()) if ok else None
    for v, r in pair.items():
      steps[v][seed] = steps_to(metrics[r['point_id']], target) if ok else None
  return ev.compare(f'{data}: log steps(none) - log steps(LayerNorm)', steps['none'],
                    steps['layernorm'], STEPS_DELTA, log=True, label=f'{data} rows',
                    edge=ev.edge(best[('none', data)][0], best[('layernorm', data)][0]))


def curves_figure(df, metrics, best, path: str) -> list[str]:
  """Eval loss against step at the best LR, seed mean, one panel per row layout."""
  from lnexp.claims import plots
  layouts = ('packed', 'padded')
  fig, axes = plots.figure(len(layouts), width=10.0)
  style = plots.styles(df)
  for ax, data in zip(axes, layouts):
    for variant in dict.fromkeys(df['variant']):
      if (variant, data) not in best:
        continue
      b = best[(variant, data)][0]
      curves = [metrics[r['point_id']].dropna(subset=['eval_loss'])
                for r in b.per_seed.values() if 'eval_loss' in metrics[r['point_id']]]
      if curves:
        steps = curves[0]['step'].to_numpy()
        mean = np.nanmean([c['eval_loss'].astype(float).to_numpy()[:len(steps)]
                           for c in curves if len(c) >= len(steps)], axis=0)
        ax.plot(steps, mean, color=style[variant]['color'], label=f'{variant} (LR {b.lr:g})')
    plots.floor_lines(ax, df)
    ax.set_xlabel('step')
    ax.set_ylabel('eval loss (seed mean, best LR)')
    ax.set_title(f'{data} rows', fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
  return plots.save(fig, path)


def position_figure(df, best, path: str) -> list[str]:
  """Padded rows: eval loss minus Bayes loss by position in the document, best LRs."""
  from lnexp.claims import plots
  fig, (ax,) = plots.figure()
  style = plots.styles(df)
  for variant in dict.fromkeys(df['variant']):
    if (variant, 'padded') not in best:
      continue
    b = best[(variant, 'padded')][0]
    curves = [[np.nan if (m is None or y is None) else m - y
               for m, y in zip(r['position_loss'], r['position_bayes_loss'])]
              for r in b.per_seed.values() if isinstance(r.get('position_loss'), list)]
    if curves:
      ax.plot(np.arange(len(curves[0])), np.nanmean(np.asarray(curves, float), axis=0),
              color=style[variant]['color'], label=f'{variant} (LR {b.lr:g})')
  ax.set_xlabel('position in the document (tokens seen)')
  ax.set_ylabel('eval loss - Bayes loss (nats, seed mean)')
  ax.set_title('padded rows', fontsize=10)
  if ax.get_legend_handles_labels()[0]:  # no curve: the rows carry no position losses
    ax.legend(fontsize=7)
  ax.grid(True, alpha=0.3)
  return plots.save(fig, path)
