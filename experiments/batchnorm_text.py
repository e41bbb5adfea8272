"""Claim 7: LayerNorm vs BatchNorm on variable-length sequences, small batches.

  python -m lnexp.run --config experiments/batchnorm_text.py[:quick|:full]

A 2 x 2 design on synthetic documents (mean length 48, rows of 64 tokens):
padded rows (data.pack=False: one document per row, PAD after its end; 5
seeds) vs packed rows (data.pack=True, every position a real token; 3 seeds,
the control) x post-LN vs causal BatchNorm (statistics per position over the
batch, bn_axes=batch) at batch 2, 8 and 32, peak LR 3e-4, 1e-3, 3e-3, 1e-2 (a
best LR at an edge grows the grid by a step, twice at most), 300 steps. Beside it on padded
data, 3 seeds: PowerNorm (Shen et al. 2020) and a leak-free BatchNorm with
cumulative statistics over the batch and past positions (bn_axes=cumulative).
--full adds batch 128 (one seed, 75 steps: batch 32's tokens) and
bn_axes=batch_time, which leaks future tokens.

Metrics: best final eval loss over the LR grid (BatchNorm: running
statistics; a diverged run at ln V), per seed; beside it the eval loss with
batch statistics, and the batch-vs-running statistics distance (Shen et al.
2020, `depth/*_norm/bn_{mean,var}_dist`) at the end.

--- rule claim-7 ---
Verdict rule, fixed before running. Claim 7 (LayerNorm beats BatchNorm on
variable-length text): on padded data at each batch size, the paired
difference over 5 seeds of best final eval loss, d = loss(causal BatchNorm) -
loss(LayerNorm) (positive: LayerNorm better), 95% paired t-interval, minimum
effect delta = 0.02 nats; inconclusive where either variant's best LR (mean
over seeds) is at an edge of its grid after extension. Verdict: the common
outcome of the three batch sizes if they agree, else mixed. Whether the gap is
due to variable length: the interaction, d(padded) - d(packed) per seed (the 3
seeds both have), same interval and delta, reported per batch size. PowerNorm and cumulative
BatchNorm against LayerNorm (3 seeds, same delta) reported beside. Shen et al.
2020 is reproduced if log distance(batch 2) - log distance(batch 32) of causal
BatchNorm's mean statistics on padded data is supported at delta = log 1.25.
--- end rule ---
"""
import math
import os

import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Claim, Quote

ORDER = 9
RUNTIME = ('264 points (299 after grid extension), 22 process-minutes on a 2-core CPU '
           '(2026-12-05; about half that with --jobs 2).')
SEQUENTIAL = Quote('BatchNorm normalizes activations using statistics computed across the '
                   'entire batch, making it less effective in sequential tasks where each '
                   'input can differ significantly in size or structure.', '7')
LOW_RESOURCE = Quote('This independence allows for more reliable training, particularly in '
                     'low-resource settings where batch sizes cannot be guaranteed.', '7')
QUOTES = (
    Quote('making it particularly effective in models where the batch size is small or '
          'varies, such as in natural language processing (NLP) models that handle '
          'variable-length sequences', '7'),
    Quote('it is uniquely suited to scenarios where batch-level statistics are not easily '
          'computed or relevant', '7',
          '"uniquely": RMSNorm and DyT need no batch statistics either'),
    SEQUENTIAL,
    Quote('In AlbertAGPT, the sequential and often variable nature of inputs makes '
          'LayerNorm an optimal choice, as it provides consistent normalization across '
          'diverse inputs without relying on batch statistics.', '7',
          '"optimal" is not tested: the rule compares LayerNorm with BatchNorm only'),
    LOW_RESOURCE)
CLAIMS = {'7': Claim('LayerNorm vs BatchNorm on variable-length text',
                     f'{SEQUENTIAL.text} [...] {LOW_RESOURCE.text}')}

LN = sizes.VARIANTS['layernorm-post']
CAUSAL_BN = {'model.norm': 'batchnorm', 'model.placement': 'post', 'model.bn_axes': 'batch'}
BESIDE = ({'model.norm': 'powernorm', 'model.placement': 'post'},
          {'model.norm': 'batchnorm', 'model.placement': 'post', 'model.bn_axes': 'cumulative'})
LRS = (3e-4, 1e-3, 3e-3, 1e-2)


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = sizes.claims_config(size)
  c.data.pack = False
  c.optim.lr_extend = sizes.lr_extend(sizes.size_of(arg))
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  if size == 'smoke':
    return [{**CAUSAL_BN, 'train.batch_size': 4, 'optim.lr': lr} for lr in (1e-3, 1e-2)]
  batches = (2, 32) if size == 'quick' else (2, 8, 32)
  lrs = (1e-3, 1e-2) if size == 'quick' else LRS
  points = [{**v, 'data.pack': pack, 'train.batch_size': b, 'optim.lr': lr, **seed}
            for v in (LN, CAUSAL_BN) for pack in (False, True) for b in batches
            for seed in sizes.seeds(size, headline=not pack) for lr in lrs]
  if size in ('core', 'full'):
    points += [{**v, 'train.batch_size': b, 'optim.lr': lr, **seed} for v in BESIDE
               for b in batches for seed in sizes.seeds(size) for lr in lrs]
  if size == 'full':
    points += [{**v, 'train.batch_size': 128, 'train.steps': 75, 'optim.lr': lr,
                **sizes.seeds(size)[0]} for v in (LN, CAUSAL_BN) for lr in lrs]
    points += [{**CAUSAL_BN, 'model.bn_axes': 'batch_time', 'train.batch_size': b,
                'optim.lr': lr, **seed} for b in batches for seed in sizes.seeds(size)
               for lr in lrs]
  return points


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claim 7: LayerNorm vs causal BatchNorm, padded vs packed, over batch sizes."""
  from lnexp.claims import evidence as ev  # the report's extra: running needs none of it
  df = ev.load(workdir, point_ids)
  metrics = ev.metrics_of(workdir, df)
  df['bn_dist'] = [bn_distance(metrics[p]) for p in df['point_id']]
  df['mismatch'] = df['final_eval_loss'] - df['final_eval_loss_batch_stats']
  df['data'] = np.where(df['data.pack'].astype(bool), 'packed', 'padded')
  best, rows = {}, []
  for (variant, data, batch), g in df.groupby(['variant', 'data', 'train.batch_size'],
                                              sort=False):
    b = best[(variant, data, batch)] = ev.best_lr(g)
    at = ev.at_best(b)
    batch1 = [ev.stat(at[k]) if k in at else '-' for k in ('batch1_loss_running',
                                                           'batch1_loss_batch_stats')]
    rows.append([variant, data, str(batch), str(g['seed'].nunique()), ev.counts(g['label']),
                 ev.best_cell(b), ev.stat(at['loss_or_ln_v']),
                 ev.stat(at['final_eval_loss_batch_stats']), ev.stat(at['mismatch']),
                 *batch1, ev.median(at['bn_dist'])])

  def loss(variant, data, batch):
    b = best.get((variant, data, batch))
    return ev.losses(b) if b else {}
  ln, bn = 'layernorm-post', 'batchnorm-post'
  batches = [b for b in sorted(df['train.batch_size'].unique()) if b <= 32]  # the rule's

  comps, interaction, beside = [], [], []
  for batch in batches:
    if (ln, 'padded', batch) in best and (bn, 'padded', batch) in best:
      comps.append(ev.compare(f'padded, batch {batch}: loss(causal BN) - loss(LN)',
                              loss(bn, 'padded', batch), loss(ln, 'padded', batch), 0.02,
                              edge=ev.edge(best[(bn, 'padded', batch)],
                                           best[(ln, 'padded', batch)]), label=f'B={batch}'))
    packed = ev.difference(loss(bn, 'packed', batch), loss(ln, 'packed', batch))
    padded = ev.difference(loss(bn, 'padded', batch), loss(ln, 'padded', batch))
    if packed:  # the seeds the packed control ran (a seed missing elsewhere: missing)
      interaction.append(ev.compare(f'batch {batch}: d(padded) - d(packed)',
                                    {s: padded.get(s) for s in packed}, packed, 0.02))
    for other in ('powernorm-post', 'batchnorm-post/cumulative'):
      if (other, 'padded', batch) in best:
        theirs = loss(other, 'padded', batch)  # run at fewer seeds: pair on those
        beside.append(ev.compare(f'padded, batch {batch}: loss({other}) - loss(LN)', theirs,
                                 {s: loss(ln, 'padded', batch).get(s) for s in theirs}, 0.02,
                                 edge=ev.edge(best[(other, 'padded', batch)],
                                              best[(ln, 'padded', batch)])))
  findings = [ev.Finding(
      '7', ev.combine([c.outcome for c in comps]),
      'padded data, d = loss(causal BN) - loss(LN) at the best LRs: ' + '; '.join(
          f'{c.label} {ev.fmt_interval(c.interval)} {c.outcome}' for c in comps),
      [ev.table('Per variant, data and batch size: seeds; runs trained/collapsed/diverged; '
                'best LR (seed-mean; an edge: not bracketed after extension); final eval '
                'loss there (running statistics for BatchNorm; diverged at ln V); eval loss '
                'with each eval batch\'s own statistics; the mismatch (running minus batch '
                'statistics); inference one sequence at a time (the low-resource setting: '
                '8 eval sequences, running statistics, then each sequence\'s own '
                'statistics; a causal BatchNorm position with one sample falls back to the '
                'running ones); the batch-vs-running statistic distance (Shen et al. 2020; '
                'median over seeds). Mean ± sd over seeds. Entropy floor '
                f"{df['entropy_floor'].mean():.3f} nats.",
                ['variant', 'data', 'batch', 'seeds', 'trained/collapsed/diverged',
                 'best LR', 'final eval loss', 'batch-stats eval loss', 'mismatch',
                 'batch 1: running', 'batch 1: own stats', 'BN stat distance'], rows),
       ev.comparisons_table('The rule\'s comparisons (d > 0: LayerNorm better), the '
                            'interaction with variable length (d > 0: the gap is larger on '
                            'padded data), and the other norms against LayerNorm beside.',
                            comps + interaction + beside)],
      figure(ev.at_best(*best.values()).assign(
          variant=lambda f: f['variant'] + '/' + f['data']),
          os.path.join(figdir, 'batchnorm_text.png')), [ev.SMALL_SCALE])]
  small, large = batches[0], 32
  if (bn, 'padded', small) in best and (bn, 'padded', large) in best and small != large:
    dist = lambda b: {s: r['bn_dist'] for s, r in best[(bn, 'padded', b)].per_seed.items()}  # noqa
    c = ev.compare(f'log dist(batch {small}) - log dist(batch {large})', dist(small),
                   dist(large), math.log(1.25), log=True)
    findings.append(ev.Finding(
        '7-lit', ev.reproduced(c.outcome, 'supported'), 'Shen et al. 2020 (batch statistics '
        'fluctuate more in small batches): causal BatchNorm\'s batch-vs-running distance '
        f'ratio {ev.fmt_interval(c.interval, log=True)}', [], []))
  return findings


def bn_distance(m) -> float:
  """BatchNorm's batch-vs-running mean distance at the last diagnostic step, averaged
  over depth and norm layers."""
  from lnexp.analysis import results
  cols = [c for c in m if c.endswith('bn_mean_dist')]
  values = [np.nanmean(results.depth_value(m, c)) for c in cols
            if results.depth_value(m, c) is not None]
  return float(np.mean(values)) if values else math.nan


def figure(best, path: str) -> list[str]:
  """Best final eval loss and batch-statistics eval loss vs batch size."""
  from lnexp.claims import plots
  fig, (ax,) = plots.figure()
  style = plots.styles(best)
  for variant, d in best.groupby('variant', sort=False):
    mean = d.groupby('train.batch_size')[['final_eval_loss',
                                          'final_eval_loss_batch_stats']].mean()
    st = style[variant]
    ax.plot(mean.index, mean['final_eval_loss'], color=st['color'], marker=st['marker'],
            label=f'{variant}')
    if mean['final_eval_loss_batch_stats'].notna().any():
      ax.plot(mean.index, mean['final_eval_loss_batch_stats'], color=st['color'],
              marker=st['marker'], linestyle='--', label=f'{variant}, batch statistics')
  plots.floor_lines(ax, best)
  ax.set_xscale('log', base=2)
  ax.set_xlabel('batch size')
  ax.set_ylabel('final eval loss (seed mean, best LR)')
  ax.legend(fontsize=7)
  ax.grid(True, alpha=0.3)
  return plots.save(fig, path)
