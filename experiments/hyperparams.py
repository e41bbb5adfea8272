"""Claim 3: sensitivity to warm-up, initialization scale and batch size.

  python -m lnexp.run --config experiments/hyperparams.py[:quick|:full]

No norm, post-LN and pre-LN at the learned size of
lnexp.claims.sizes.learned_config (d=128, 2 ALBERT-shared layers, 2,000 steps,
the untied output layer initialised at zero; docs/claims-v4-pilots.md) on
`topics`, each at its own best peak LR of claim 2's v4 runs on topics
(seed mean over 5 seeds: no norm 3e-3, post-LN 3e-3, pre-LN 1e-2), 5 seeds,
changing one factor at a time from the centre (warm-up 5% = 100 steps, init
scale 1, batch 16): warm-up 0, 2%, 5%, 10%; init scale 0.5, 1, 2; batch
size 8, 16, 32.

Metric: per factor, the spread (max minus min) of final eval loss over the
factor's values, under two scorings of a failed run (diverged or
collapsed): at ln V, and at the unigram entropy of the eval targets.

--- rule claim-3-v4 ---
Verdict rule, fixed before running (claims v4). Per factor and for each of
post-LN and pre-LN, the paired difference over 5 seeds of the spread (max -
min over the factor's values of final eval loss), d = spread(no norm) -
spread(LayerNorm) (positive: LayerNorm less sensitive), 95% paired
t-interval, minimum effect delta = 0.05 nats, under both scorings of failed
runs (at ln V; at the unigram entropy); a comparison's outcome is the two
scorings' common outcome (supported / contradicted / no effect /
inconclusive), else fragile. The six comparisons are one family: a
supported or contradicted one whose Holm-adjusted p (the larger of its two
scorings' p) is >= 0.05 becomes inconclusive. The claim ("reduces
sensitivity to ... learning rates, weight initialization, and batch sizes";
the learning rate is claim 2's) is given the common outcome of the six
comparisons if they agree, else mixed; named "early training" if post-LN
at the centre closes less than 75% of the gap between the previous-token
loss and the Bayes floor (seed mean). Counts of trained, collapsed and
diverged runs reported.
--- end rule ---
"""
import os

import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Change, Claim, Quote

ORDER = 10
VERSION = 4
RUNTIME = ('120 points of the learned-size claims model (batch 32 costs two): 2 x 90 '
           'process-minutes with --jobs 2 on a 2-core CPU (2026-12-07).')
SENSITIVITY = Quote('Layer normalization also reduces sensitivity to hyperparameters such '
                    'as learning rates, weight initialization, and batch sizes.', '3')
QUOTES = (SENSITIVITY,
          Quote('allowing for more lenient and less critical hyperparameter choices.', '3'))
CLAIMS = {'3': Claim('Warm-up, initialization and batch size', SENSITIVITY.text)}

CHANGES = (
    Change('claim 3: model', 'd=64, 300 steps', 'the learned size of claim 2 (d=128, 2,000 '
           'steps, zero-initialised output layer)', 'the v3 models had not learned the task'),
    Change('claim 3: learning rate', '3e-2 for every variant (post-LN trained in 1 of 5 '
           'runs there)', "each variant's best LR of claim 2's v4 runs", 'a fair comparison '
           'needs each variant at its own optimum'),
    Change('claim 3: failed runs', 'a diverged run at ln V', 'both scorings (ln V; unigram '
           'entropy), fragile unless they agree; Holm over the six', 'robust to how '
           'failures are scored'),
    Change('claim 3: seeds', '3', '5', 'power'),
)
NAMES = ('none', 'layernorm-post', 'layernorm-pre')
# Claim 2's v4 runs on topics, the seed mean over 5 seeds of the final eval loss:
# none 2.636 at 3e-3 (2.828 at 1e-3, 3.125 at 1e-2), post-LN 2.598 at 3e-3,
# pre-LN 2.639 at 1e-2 (2.654 at 3e-3).
BEST_LR = {'none': 3e-3, 'layernorm-post': 3e-3, 'layernorm-pre': 1e-2}
CENTRE = {'optim.warmup_steps': 100, 'model.init_scale': 1.0, 'train.batch_size': 16}
FACTORS = tuple(CENTRE)


def factors(size):
  """{factor key: values}; warm-up in steps of the experiment's length."""
  steps = get_config(size).train.steps
  return {'optim.warmup_steps': sorted({0, round(0.02 * steps), round(0.05 * steps),
                                        round(0.1 * steps)}),
          'model.init_scale': [0.5, 1.0, 2.0],
          'train.batch_size': {'smoke': [4], 'quick': [8, 16]}.get(size, [8, 16, 32])}


def get_config(arg=''):
  c = sizes.learned_config(sizes.size_of(arg))
  c.data.source = 'topics'
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  centre = {**CENTRE, 'optim.warmup_steps': get_config(size).optim.warmup_steps,
            'train.batch_size': get_config(size).train.batch_size}
  names = {'smoke': NAMES[1:2], 'quick': NAMES[:2]}.get(size, NAMES)
  points = []
  for factor, values in factors(size).items():
    for value in values:
      points += [{**sizes.LEARNED_VARIANTS[n], 'optim.lr': BEST_LR[n], **centre,
                  factor: value, **seed} for n in names
                 for seed in sizes.seeds(size, headline=True)]
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
  from lnexp.claims import regime, scoring
  df = ev.load(workdir, point_ids)
  config = results.load_config(workdir)
  # The centre is the one value of each factor that every other factor's points share.
  centre = {k: pd.Series([p[k] for p in config['sweep']]).mode()[0] for k in FACTORS}
  ln_v = np.log(df['vocab_size'].astype(float))
  failed = df['label'].ne(ev.TRAINED)
  scorings = {'failures at ln V': df['final_eval_loss'].where(~failed, ln_v),
              'failures at H': df['final_eval_loss'].where(~failed, df['unigram_entropy'])}
  rows, comps = [], []
  for factor in FACTORS:
    axis = on_axis(df, centre, factor)
    values = ', '.join(f'{v:g}' for v in sorted(axis[factor].unique()))
    spread = {name: axis.assign(loss=scored[axis.index]).groupby(['variant', 'seed'])[
        'loss'].agg(lambda x: x.max() - x.min()).reset_index(name='spread')
              for name, scored in scorings.items()}
    for variant in dict.fromkeys(axis['variant']):
      labels = axis[axis['variant'] == variant]['label']
      rows.append([factor, values, variant, ev.counts(labels)] + [
          ev.stat(s[s['variant'] == variant]['spread']) for s in spread.values()])
    for ln in ev.LN:
      of = lambda s, v: ev.by_seed(s[s['variant'] == v], 'spread')  # noqa: E731
      parts = tuple(ev.compare(f'{factor}: spread(none) - spread({ln}), {name}',
                               of(s, 'none'), of(s, ln), 0.05)
                    for name, s in spread.items())
      comps.append(scoring.Robust(f'{factor}: none vs {ln}', parts,
                                  scoring.combine([c.outcome for c in parts]),
                                  label=f"{factor.partition('.')[2]}/{ln}"))
  comps = ev.family(comps)
  post = df[(df['variant'] == 'layernorm-post') & np.logical_and.reduce(
      [np.isclose(df[k], v) for k, v in centre.items()])]
  closed = regime.closed_at_best(dict(zip(post['seed'], post.to_dict('records')))) \
      if len(post) else None
  early, scale = regime.scale_note(ev.LEARNED_SCALE, [closed])
  return [ev.Finding(
      '3', ev.combine([c.outcome for c in comps]) + early, 'outcomes per factor: ' + ', '.join(
          f'{c.label} {c.outcome}' for c in comps),
      [ev.table('Spread (max - min) of final eval loss over one factor\'s values, the '
                'others at the centre, each variant at its own best LR (claim 2); a failed '
                'run counts at ln V, or at the unigram entropy H; runs trained/collapsed/'
                'diverged on that axis; mean ± sd over seeds.',
                ['factor', 'values', 'variant', 'trained/collapsed/diverged',
                 'spread, failures at ln V', 'spread, failures at H'], rows),
       ev.comparisons_table('The rule\'s comparisons under both scorings (d > 0: LayerNorm '
                            'less sensitive), Holm over the six.', comps)],
      figure(df, centre, os.path.join(figdir, 'hyperparams.png')), [scale])]


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
