"""Claim 6: implicit regularization on a small corpus where models overfit.

  python -m lnexp.run --config experiments/generalization.py[:quick|:full]

The first 30,000 bytes of CPython's docs (27 kB train, 3 kB eval), 1,200 steps
of 16 x 64 bytes (about 36 epochs), peak LR 3e-3; no norm (fair init,
lnexp.claims.sizes), post-LN, pre-LN, pre-RMSNorm and post-BatchNorm, 3 seeds.

Metric: the generalization gap, eval loss minus train loss, at matched train
loss: at the first logged step where each point's train loss (smoothed over
5 logs) falls below the highest final train loss among the seed's trained
runs, so every variant is compared at the same fit; also the gap at the end.

--- rule claim-6 ---
Verdict rule, fixed before running. For each of post-LN and pre-LN, the paired
difference over 3 seeds of the generalization gap at matched train loss, d =
gap(no norm) - gap(LayerNorm) (positive: LayerNorm regularizes), 95% paired
t-interval, minimum effect delta = 0.05 nats; a collapsed or diverged run is
missing (inconclusive). Verdict: the common outcome of the two if they agree,
else mixed. The gap at the end and pre-RMSNorm and post-BatchNorm reported
beside.
--- end rule ---
"""
import math
import os

import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Claim, Quote

ORDER = 8
RUNTIME = ('15 points, 4.5 process-minutes on a 2-core CPU (2026-12-05; shards of 3 and 2 '
           'minutes under --jobs 2).')
REGULARIZATION = Quote('Layer normalization has an implicit regularization effect, which can '
                       'enhance the generalization of neural networks.', '6')
QUOTES = (
    REGULARIZATION,
    Quote('By maintaining consistent activation distributions, LayerNorm helps prevent '
          'overfitting, a common problem in deep networks with high capacity.', '6'),
    Quote('For instance, in transformer-based language models, where millions of parameters '
          'are tuned on vast corpora, normalization helps constrain the model’s learning '
          'capacity, guiding it towards more robust solutions.', None,
          'overfitting is rare on vast corpora (a model sees each token about once)',
          'capacity is not measured; claim 6 measures the generalization gap'),
    Quote('Empirical studies have shown that models utilizing LayerNorm tend to perform '
          'better on unseen data compared to those without, highlighting its role as a '
          'regularization technique.', '6',
          'no studies cited; lower eval loss from better optimization is not '
          'regularization, so the rule compares gaps at matched train loss'),
    Quote('In AlbertAGPT, this results in a model that not only learns effectively during '
          'training but also maintains performance during inference on previously unseen '
          'inputs.', '6', sizes.NO_ALBERTAGPT))
CLAIMS = {'6': Claim('Generalization and regularization', REGULARIZATION.text)}

VARIANTS = (*sizes.variants('none', 'layernorm-post', 'layernorm-pre'),
            {'model.norm': 'rmsnorm', 'model.placement': 'pre'},
            {'model.norm': 'batchnorm', 'model.placement': 'post'})


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = sizes.claims_config(size, steps=1200)
  c.data.source = 'python_docs'
  c.data.max_bytes = 30_000
  c.optim.lr = 3e-3
  c.train.eval_every = c.train.log_every = max(c.train.steps // 24, 1)
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  variants = {'smoke': VARIANTS[1:2], 'quick': VARIANTS[:3]}.get(size, VARIANTS)
  return [{**v, **seed} for v in variants for seed in sizes.seeds(size)]


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claim 6: eval-minus-train gap at matched train loss on a small corpus."""
  from lnexp.claims import evidence as ev  # the report's extra: running needs none of it
  df = ev.load(workdir, point_ids)
  metrics = ev.metrics_of(workdir, df)
  curves = {p: smoothed(metrics[p]) for p in df['point_id']}
  for pid, hit in matched(df, curves).items():
    c = curves[pid]
    at = hit if hit is not None else c.iloc[-1]
    df.loc[df['point_id'] == pid, ['matched_step', 'matched_gap', 'final_gap',
                                   'final_train']] = [
        at['step'], at['eval'] - at['train'], c['eval'].iloc[-1] - c['train'].iloc[-1],
        c['train'].iloc[-1]]
  df['matched_gap'] = ev.trained_only(df, 'matched_gap')
  rows = [[v, ev.counts(g['label']), ev.stat(g['matched_gap']),
           ev.stat(g['matched_step'], 0), ev.stat(g['final_gap']), ev.stat(g['final_train']),
           ev.stat(g['final_eval_loss'])] for v, g in df.groupby('variant', sort=False)]
  comps = [ev.compare(f'gap(none) - gap({ln})',
                      ev.by_seed(df[df['variant'] == 'none'], 'matched_gap'),
                      ev.by_seed(df[df['variant'] == ln], 'matched_gap'), 0.05, label=ln)
           for ln in ev.LN]
  return [ev.Finding(
      '6', ev.combine([c.outcome for c in comps]),
      'gap at matched train loss, d = gap(none) - gap(LN): ' + ', '.join(
          f'{c.label} {ev.fmt_interval(c.interval)} {c.outcome}' for c in comps),
      [ev.table('Eval minus train loss (train smoothed over 5 logs) at the first log where '
                'train loss reaches the highest final train loss of the seed\'s variants, '
                'and at the end; mean ± sd over seeds (the matched gap over trained runs).',
                ['variant', 'trained/collapsed/diverged', 'gap at matched train loss',
                 'matched at step', 'final gap', 'final train loss', 'final eval loss'],
                rows),
       ev.comparisons_table('The rule\'s comparisons (d > 0: LayerNorm regularizes).',
                            comps)],
      figure(df, curves, os.path.join(figdir, 'generalization.png')), [ev.SMALL_SCALE])]


def matched(df, curves: dict) -> dict:
  """Per point: the first log row of its smoothed curve at or below its seed's
  target, the highest final smoothed train loss among the seed's trained points
  (None if never reached)."""
  hits = {}
  for _, s in df.groupby('seed'):
    finals = [curves[p]['train'].iloc[-1] for p, label in zip(s['point_id'], s['label'])
              if label == 'trained' and len(curves[p])]
    finals = [f for f in finals if np.isfinite(f)]
    target = max(finals) if finals else -math.inf  # no trained run: nothing matches
    for pid in s['point_id']:
      hit = curves[pid][curves[pid]['train'] <= target]
      hits[pid] = hit.iloc[0] if len(hit) else None
  return hits


def smoothed(m):
  """A point's log rows with both losses: step, train loss (mean of 5 logs), eval loss."""
  import pandas as pd
  both = m[m['eval_loss'].notna() & m['train_loss'].notna()] if 'eval_loss' in m else m
  train = m['train_loss'].rolling(5, min_periods=1).mean()
  return pd.DataFrame({'step': both['step'].to_numpy(),
                       'train': train[both.index].to_numpy(),
                       'eval': both['eval_loss'].to_numpy()})


def figure(df, curves: dict, path: str) -> list[str]:
  """Eval loss against train loss over training: the gap at each fit."""
  from lnexp.claims import plots
  fig, (ax,) = plots.figure()
  style = plots.styles(df)
  lo = min(c['train'].min() for c in curves.values())
  hi = max(c['train'].max() for c in curves.values())
  for variant, d in df.groupby('variant', sort=False):
    for i, pid in enumerate(d.sort_values('seed')['point_id']):
      c = curves[pid]
      ax.plot(c['train'], c['eval'], color=style[variant]['color'],
              alpha=1.0 if i == plots.FIRST else 0.4,
              label=variant if i == plots.FIRST else None)
  ax.plot([lo, hi], [lo, hi], 'k:', linewidth=1, label='eval = train')
  ax.invert_xaxis()
  ax.set_xlabel('train loss (smoothed; training runs right to left)')
  ax.set_ylabel('eval loss')
  ax.legend(fontsize=8)
  ax.grid(True, alpha=0.3)
  return plots.save(fig, path)
