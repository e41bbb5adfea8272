"""Claim 3: sensitivity to warm-up, initialization scale and batch size.

  python -m lnexp.run --config experiments/hyperparams.py[:quick|:full]

No norm (fair init, lnexp.claims.sizes), post-LN and pre-LN at peak LR 3e-2 (high enough that the
hyperparameters matter; every variant trains there in the LR sweep), 300
steps, 3 seeds, changing one factor at a time from the centre (warm-up 5% =
15 steps, init scale 1, batch 16):
warm-up 0, 2%, 5%, 10%; init scale 0.5, 1, 2; batch size 8, 16, 32.

Metric: per factor, the spread (max minus min) of final eval loss over the
factor's values, a diverged point counting at ln V.

--- rule claim-3 ---
Verdict rule, fixed before running. Per factor and for each of post-LN and
pre-LN, the paired difference over 3 seeds of the spread (max - min over the
factor's values of final eval loss, a diverged run at ln V), d = spread(no
norm) - spread(LayerNorm) (positive: LayerNorm less sensitive), 95% paired
t-interval, minimum effect delta = 0.05 nats; outcomes supported /
contradicted / no effect / inconclusive. The claim ("reduces sensitivity to
... learning rates, weight initialization, and batch sizes"; the learning rate
is claim 2's) is given the common outcome of the six comparisons if they
agree, else mixed. Counts of trained, collapsed and diverged runs reported.
--- end rule ---
"""
import os

import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Claim, Quote

ORDER = 10
RUNTIME = ('72 points, 5.9 process-minutes on a 2-core CPU (2026-12-05; two 3-minute '
           'shards under `lnexp.claims --jobs 2`).')
SENSITIVITY = Quote('Layer normalization also reduces sensitivity to hyperparameters such '
                    'as learning rates, weight initialization, and batch sizes.', '3')
QUOTES = (SENSITIVITY,
          Quote('allowing for more lenient and less critical hyperparameter choices.', '3'))
CLAIMS = {'3': Claim('Warm-up, initialization and batch size', SENSITIVITY.text)}

VARIANTS = tuple(sizes.variants('none', 'layernorm-post', 'layernorm-pre'))
CENTRE = {'optim.warmup_steps': 15, 'model.init_scale': 1.0, 'train.batch_size': 16}
FACTORS = tuple(CENTRE)


def factors(size):
  """{factor key: values}; warm-up in steps of the experiment's length."""
  steps = get_config(size).train.steps
  return {'optim.warmup_steps': sorted({0, round(0.02 * steps), round(0.05 * steps),
                                        round(0.1 * steps)}),
          'model.init_scale': [0.5, 1.0, 2.0],
          'train.batch_size': {'smoke': [4], 'quick': [8, 16]}.get(size, [8, 16, 32])}


def get_config(arg=''):
  c = sizes.claims_config(sizes.size_of(arg))
  c.optim.lr = 3e-2
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  centre = {**CENTRE, 'optim.warmup_steps': get_config(size).optim.warmup_steps,
            'train.batch_size': get_config(size).train.batch_size}
  variants = {'smoke': VARIANTS[1:2], 'quick': VARIANTS[:2]}.get(size, VARIANTS)
  points = []
  for factor, values in factors(size).items():
    for value in values:
      points += [{**v, **centre, factor: value, **seed} for v in variants
                 for seed in sizes.seeds(size)]
  return points


def on_axis(df, centre: dict, factor: str):
  """The rows that vary `factor` alone: every other factor at the centre."""
  return df[np.logical_and.reduce([np.isclose(df[k], centre[k]) for k in FACTORS
                                   if k != factor])]


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claim 3: spread of final eval loss over warm-up, init scale, batch size."""
  import pandas as pd  # the report's extra: running the sweep needs none of it

  from lnexp.analysis import results
  from lnexp.claims import evidence as ev
  df = ev.load(workdir, point_ids)
  config = results.load_config(workdir)
  # The centre is the one value of each factor that every other factor's points share.
  centre = {k: pd.Series([p[k] for p in config['sweep']]).mode()[0] for k in FACTORS}
  rows, comps = [], []
  for factor in FACTORS:
    axis = on_axis(df, centre, factor)
    spread = axis.groupby(['variant', 'seed'])['loss_or_ln_v'].agg(
        lambda s: s.max() - s.min()).reset_index(name='spread')
    values = ', '.join(f'{v:g}' for v in sorted(axis[factor].unique()))
    for variant, g in spread.groupby('variant', sort=False):
      labels = axis[axis['variant'] == variant]['label']
      rows.append([factor, values, variant, ev.counts(labels), ev.stat(g['spread'])])
    for ln in ev.LN:
      comps.append(ev.compare(f'{factor}: spread(none) - spread({ln})',
                              ev.by_seed(spread[spread['variant'] == 'none'], 'spread'),
                              ev.by_seed(spread[spread['variant'] == ln], 'spread'), 0.05,
                              label=f"{factor.partition('.')[2]}/{ln}"))
  return [ev.Finding(
      '3', ev.combine([c.outcome for c in comps]), 'outcomes per factor: ' + ', '.join(
          f'{c.label} {c.outcome}' for c in comps),
      [ev.table('Spread (max - min) of final eval loss over one factor\'s values, the '
                'others at the centre; a diverged run counts at ln V; runs trained/'
                'collapsed/diverged on that axis; mean ± sd over seeds.',
                ['factor', 'values', 'variant', 'trained/collapsed/diverged',
                 'spread (nats)'], rows),
       ev.comparisons_table('The rule\'s comparisons (d > 0: LayerNorm less sensitive).',
                            comps)],
      figure(df, centre, os.path.join(figdir, 'hyperparams.png')), [ev.SMALL_SCALE])]


def figure(df, centre: dict, path: str) -> list[str]:
  """Final eval loss vs each factor's value, the others at the centre."""
  from lnexp.claims import plots
  fig, axes = plots.figure(len(FACTORS), 4.0)
  style = plots.styles(df)
  for ax, factor in zip(axes, FACTORS):
    for variant, d in on_axis(df, centre, factor).groupby('variant', sort=False):
      for i, (_, s) in enumerate(d.groupby('seed')):
        s = s.sort_values(factor)
        ax.plot(s[factor], s['loss_or_ln_v'], color=style[variant]['color'],
                marker=style[variant]['marker'], alpha=1.0 if i == plots.FIRST else 0.4,
                label=variant if i == plots.FIRST else None)
    ax.set_xlabel(factor)
    ax.grid(True, alpha=0.3)
  axes[0].set_ylabel('final eval loss, diverged = ln V')
  axes[0].legend(fontsize=7)
  return plots.save(fig, path)
