"""Claim 8: LayerNorm in LSTMs (covariate shift, hidden-state variance over time).

  python -m lnexp.run --config experiments/lstm_covariate_shift.py[:quick|:full]

A byte-level LSTM language model (lnexp.models.lstm: hidden 64, embedding 64) on
CPython's docs (python_docs, packed 64-byte windows: time step t is t bytes
into the window), batch 16, 300 AdamW steps with 5% warm-up; no norm,
LayerNorm (Ba et al. 2016) and per-time-step BatchNorm (Cooijmans et al.
2016); peak LR 1e-3, 3e-3, 1e-2, 3e-2, grown by a step where the best LR is at
an edge (twice at most); 3 seeds.

Metrics: hidden-state variance over time, the coefficient of variation
(std / mean over the 64 time steps) of the per-step variance of h_t at the
last diagnostic step, at each variant's best LR; steps to reach the target
train loss (the highest final train loss, smoothed over 5 logs, among the
variants' best-LR runs of the seed); drift of the input pre-activations'
feature means between diagnostics 10 steps apart; LR sensitivity (Wortsman
et al. 2023, as in lnexp.report).

--- rule claim-8 ---
Verdict rule, fixed before running. LayerNorm vs no norm over 3 seeds, 95%
paired t-intervals, each at the variant's best LR (mean over seeds; a best LR
at an edge of the grid after extension makes the comparison inconclusive):
(a) d = log CV(no norm) - log CV(LayerNorm) of the hidden-state variance over
time, delta = log 1.25; (b) d = best final eval loss(no norm) -
loss(LayerNorm), delta = 0.02 nats. Verdict: the common outcome of (a) and
(b) if they agree, else mixed. Per-time-step BatchNorm reported beside.
--- end rule ---
"""
import math
import os

import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Claim, Quote
from lnexp.models.validate import with_arch

ORDER = 12
RUNTIME = ('36 points (45 after grid extension), 3.6 process-minutes on a 2-core CPU '
           '(2026-12-05).')
RNN = Quote('For example, in recurrent neural networks (RNNs) like LSTMs, where hidden '
            'state dynamics evolve over time, LayerNorm can dramatically reduce the '
            'covariate shift, stabilizing the learning process.', '8')
VARIANCE = Quote('Without normalization, the hidden states can exhibit high variance across '
                 'time', '8')
# Decided by lstm_length.py (claim 17: steps to a target loss); quoted in claim 8's section.
FASTER = ('This results in more efficient training, as evidenced by faster convergence '
          'rates')
QUOTES = (RNN, VARIANCE, Quote('Layer normalization addresses this by stabilizing the '
                               'outputs of each time step', '8'))
# The words after VARIANCE are a claim of their own (instruments.py, claim 16).
CLAIMS = {'8': Claim('LSTMs: covariate shift and hidden-state variance',
                     f'{RNN.text} [...] {VARIANCE.text}, complicating the learning of '
                     f'long-term dependencies. [...] {FASTER}')}

VARIANTS = ({'model.norm': 'none'}, {'model.norm': 'layernorm'},
            {'model.norm': 'batchnorm'})


def get_config(arg=''):
  c = sizes.claims_config(sizes.size_of(arg))
  c.optim.lr_extend = sizes.lr_extend(sizes.size_of(arg))
  c = with_arch(c, 'lstm')  # the claims model's transformer-only keys: defaults
  c.data.source = 'python_docs'
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  lrs = {'smoke': (1e-2,), 'quick': (3e-3, 3e-2)}.get(size, (1e-3, 3e-3, 1e-2, 3e-2))
  variants = VARIANTS[1:2] if size == 'smoke' else VARIANTS
  return [{**v, 'optim.lr': lr, **seed} for v in variants
          for seed in sizes.seeds(size) for lr in lrs]


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claim 8: hidden-state variance over time and loss at each variant's best LR."""
  from lnexp.analysis import results  # the report's extra: running needs none of it
  from lnexp.claims import evidence as ev
  df = ev.load(workdir, point_ids)
  metrics = ev.metrics_of(workdir, df)
  cv = {}
  for pid, m in metrics.items():
    var_T = results.depth_value(m, 'time/hidden_var')
    cv[pid] = float(np.std(var_T) / np.mean(var_T)) if var_T is not None else math.nan
  df['hidden_var_cv'] = df['point_id'].map(cv)
  df['hidden_var_cv'] = ev.trained_only(df, 'hidden_var_cv')
  best = {v: ev.best_lr(g) for v, g in df.groupby('variant', sort=False)}
  rows = []
  for variant, b in best.items():
    at = ev.at_best(b)
    rows.append([variant, ev.counts(df[df['variant'] == variant]['label']), ev.best_cell(b),
                 ', '.join(f'{x:g}' for x in b.lrs), ev.median(at['hidden_var_cv']),
                 ev.stat(at['loss_or_ln_v'])])
  comps = []
  if {'none', 'layernorm'} <= set(best):
    at = lambda v, k: {s: r[k] for s, r in best[v].per_seed.items()}  # noqa: E731
    edge = ev.edge(best['none'], best['layernorm'])
    comps = [ev.compare('log CV(none) - log CV(LayerNorm)', at('none', 'hidden_var_cv'),
                        at('layernorm', 'hidden_var_cv'), math.log(1.25), log=True,
                        edge=edge),
             ev.compare('loss(none) - loss(LayerNorm)', at('none', 'loss_or_ln_v'),
                        at('layernorm', 'loss_or_ln_v'), 0.02, edge=edge)]
  return [ev.Finding(
      '8', ev.combine([c.outcome for c in comps]), 'LayerNorm vs none at each best LR: '
      + '; '.join(f'{c.name} {ev.fmt_interval(c.interval, c.log)} {c.outcome}'
                  for c in comps),
      [ev.table('Per variant: runs trained/collapsed/diverged over the whole grid; best LR '
                '(seed-mean) and the grid as run (extended where the best sat at an edge); '
                'at the best LR: coefficient of variation over time steps of the '
                'hidden-state variance (median, IQR; trained runs) and final eval loss.',
                ['variant', 'trained/collapsed/diverged', 'best LR', 'grid',
                 'hidden-variance CV', 'final eval loss'], rows),
       ev.comparisons_table('The rule\'s comparisons (d > 0: as the article predicts).',
                            comps)],
      figure(ev.at_best(*best.values()), metrics,
             os.path.join(figdir, 'hidden_variance.png')), [ev.SMALL_SCALE])]


def figure(best, metrics: dict, path: str) -> list[str]:
  """LSTM hidden-state variance vs time step at the end, each variant's best LR."""
  from lnexp.analysis import results
  from lnexp.claims import plots
  fig, (ax,) = plots.figure()
  style = plots.styles(best)
  for variant, d in best.groupby('variant', sort=False):
    for i, pid in enumerate(d.sort_values('seed')['point_id']):
      var_T = results.depth_value(metrics[pid], 'time/hidden_var')
      if var_T is not None:
        ax.plot(np.arange(len(var_T)), var_T, color=style[variant]['color'],
                alpha=1.0 if i == plots.FIRST else 0.4,
                label=variant if i == plots.FIRST else None)
  ax.set_xlabel('time step (bytes into the window)')
  ax.set_ylabel('variance of the hidden state h_t')
  ax.set_title('LSTM hidden-state variance over time, end of training, best LR',
               fontsize=10)
  ax.legend(fontsize=8)
  ax.grid(True, alpha=0.3)
  return plots.save(fig, path)
