"""Claim 5: does LayerNorm reduce internal covariate shift?

  python -m lnexp.run --config experiments/covariate_shift.py[:quick|:full]

No norm, post-LN and pre-LN at the learned size of
lnexp.claims.sizes.learned_config (d=128, 2,000 steps of 16 x 64 tokens, the
untied output layer initialised at zero; docs/claims-v4-pilots.md) with 4
unshared layers (share=none: Santurkar et al.'s definition needs a layer's
own weights; twice the compute of the 2-layer size), peak LR 1e-3, 3e-3 and
1e-2, 5 seeds, on `topics`; diagnostics and Santurkar ICS every 200 steps.

Metrics:
- ICS (Santurkar et al. 2018): ||G_i - G_i'|| / ||G_i||, layer i's weight
  gradient before and after the layers below it took this step's update,
  averaged over layers and diagnostic steps (unshared models);
- drift, beside it: RMS change of the feature means of what each sublayer
  sees (its input: the norm output in pre-LN, the residual stream in post-LN
  and without a norm) between diagnostics, divided by that input's RMS spread,
  averaged over sublayers, depth and training.

--- rule claim-5-v4 ---
Verdict rule, fixed before running (claims v4). Claim 5 (LayerNorm reduces
internal covariate shift), on the unshared models: at each LR and for each
of post-LN and pre-LN, the paired difference over 5 seeds of log ICS, d =
log ICS(no norm) - log ICS(LayerNorm) (positive: LayerNorm less shift), 95%
paired t-interval, minimum effect delta = log 1.25. Runs that diverged or
collapsed are missing, which makes that comparison inconclusive. The six
comparisons are one family: a supported or contradicted one whose
Holm-adjusted p is >= 0.05 becomes inconclusive. Verdict: the common
outcome of the six if they agree, else mixed; named "early training" if
post-LN at its best LR of the three closes less than 75% of the gap
between the previous-token loss and the Bayes floor (seed mean). Whether
shift predicts the result: Spearman correlation of ICS and final eval loss
within each LR (not pooled), reported without a verdict; relative drift
reported beside.
--- end rule ---
"""
import math

import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Change, Claim, Quote

ORDER = 3
VERSION = 4
RUNTIME = ('45 points of the learned-size model with 4 unshared layers (twice a run): 54 '
           'process-minutes beside another suite process on a 2-core CPU (2026-12-07).')
CHANGES = (
    Change('claim 5: model', 'd=64, 4 layers, 200 steps', 'd=128, 4 unshared layers, 2,000 '
           'steps, zero-initialised output layer', 'the v3 models had not learned the task'),
    Change('claim 5: shared arm', 'drift of shared and unshared models beside', 'unshared '
           'only', 'compute; the rule never used the shared arm'),
    Change('claim 5: seeds and family', '3 seeds, six comparisons at 95% each', '5 seeds, '
           'Holm over the six', 'power; a family-wise treatment'),
)
SHIFT = Quote('Layer normalization addresses the issue of internal covariate shift—the '
              'change in the distribution of layer inputs as network parameters are '
              'updated.', '5',
              'that reducing internal covariate shift is why normalization helps is '
              'disputed (Santurkar et al. 2018, for BatchNorm)')
SLOWER = Quote('This shift forces the model to continually adapt to new data distributions, '
               'slowing down the training process.', None,
               reason='the rule compares covariate shift, not training speed; the '
               'drift-loss correlation is only reported')
QUOTES = (SHIFT, SLOWER, Quote('reducing internal covariate shifts', '5'))
CLAIMS = {'5': Claim('Internal covariate shift', f'{SHIFT.text} {SLOWER.text}')}


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = sizes.learned_config(size)
  c.model.num_layers, c.model.share = 4, 'none'
  c.data.source = 'topics'
  every = max(c.train.steps // 10, 1)
  c.diagnostics.every = c.diagnostics.ics_every = every
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  names = ('layernorm-post',) if size == 'smoke' else sizes.HEADLINE[:3]
  lrs = {'smoke': (1e-2,), 'quick': (3e-3,)}.get(size, (1e-3, 3e-3, 1e-2))
  return [{**sizes.LEARNED_VARIANTS[n], 'optim.lr': lr, **seed}
          for n in names for seed in sizes.seeds(size, headline=True) for lr in lrs]


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claim 5: Santurkar et al.'s ICS (unshared) and relative drift (both shares)."""
  from lnexp.claims import evidence as ev  # the report's extra: running needs none of it
  from lnexp.claims import regime, stats
  df = ev.load(workdir, point_ids)
  metrics = ev.metrics_of(workdir, df)
  df['ics'] = [series_mean(metrics[p], 'ics_santurkar_rel') for p in df['point_id']]
  df['drift'] = [relative_drift(metrics[p]) for p in df['point_id']]
  df['ics'] = ev.trained_only(df, 'ics')
  rows, comps, notes = [], [], []
  for (share, lr, variant), g in df.groupby(['model.share', 'optim.lr', 'variant'],
                                            sort=False):
    rows.append([share, f'{lr:g}', variant, ev.counts(g['label']),
                 ev.median(g['ics']) if share == 'none' else '-',
                 ev.median(ev.trained_only(g, 'drift')), ev.stat(g['final_eval_loss'])])
  unshared = df[df['model.share'] == 'none']
  for lr, g in unshared.groupby('optim.lr'):
    for ln in ev.LN:
      comps.append(ev.compare(f'LR {lr:g}: log ICS(none) - log ICS({ln})',
                              ev.by_seed(g[g['variant'] == 'none'], 'ics'),
                              ev.by_seed(g[g['variant'] == ln], 'ics'), math.log(1.25),
                              log=True))
    rho, p, n = stats.spearman(g['ics'],
                               g['final_eval_loss'].where(g['label'].eq(ev.TRAINED)))
    notes.append(f'LR {lr:g}: Spearman rho(ICS, final eval loss) over {n} trained unshared '
                 f'runs = {rho:.2f} (permutation p = {p:.3f})')
  comps = ev.family(comps)
  post = unshared[unshared['variant'] == 'layernorm-post']
  closed = regime.closed_at_best(ev.best_lr(post).per_seed) if len(post) else None
  early, scale = regime.scale_note(ev.LEARNED_SCALE, [closed])
  notes.insert(0, scale)
  med = unshared.groupby('variant')['ics'].median()
  return [ev.Finding(
      '5', ev.combine([c.outcome for c in comps]) + early, 'relative ICS (Santurkar et al. 2018), '
      'median over LRs and seeds: ' + ', '.join(f'{v} {x:.3g}' for v, x in med.items())
      + '; outcomes ' + ', '.join(c.outcome for c in comps),
      [ev.table('Per share, LR and variant: runs trained/collapsed/diverged; Santurkar et '
                'al. ICS ||G - G\'|| / ||G|| (mean over layers and diagnostic steps; '
                'unshared only); relative drift of what each sublayer sees (its input: the '
                'norm output in pre-LN, the residual stream otherwise; RMS change of the '
                'feature means between diagnostics 20 steps apart / the input\'s spread); '
                'medians (IQR); final eval loss.',
                ['share', 'LR', 'variant', 'trained/collapsed/diverged', 'ICS (relative)',
                 'drift (relative)', 'final eval loss'], rows),
       ev.comparisons_table('The rule\'s comparisons (d > 0: LayerNorm less shift).',
                            comps)],
      [], notes)]


def series_mean(m, prefix: str, suffix: str = '') -> float:
  """Mean over logged steps and entries of the list-valued metrics named prefix*suffix."""
  cols = [c for c in m if c.startswith(prefix) and c.endswith(suffix)]
  values = [np.nanmean(np.asarray([np.nan if x is None else x for x in v], dtype=float))
            for c in cols for v in m[c].dropna()]
  return float(np.nanmean(values)) if values else math.nan


def relative_drift(m) -> float:
  """RMS change of the per-feature means of each sublayer's input between
  diagnostics, over the input's RMS spread: what the sublayer sees move."""
  drift = series_mean(m, 'ics_drift/', '_sub_mean')
  var = series_mean(m, 'depth/', '_sub_in_var')
  return drift / math.sqrt(var) if var > 0 else math.nan
