"""Claim 2: learning-rate sensitivity, against fair and norm-free baselines.

  python -m lnexp.run --config experiments/lr_sensitivity.py[:quick|:full]

Core: the five headline variants of lnexp.claims.sizes (no norm with its
fair init, post-LN, pre-LN, ReZero, DeepNorm) x 7 peak LRs 3e-4..3e-1 x 5
seeds on two datasets: `topics` (synthetic documents whose latent topic must
be inferred from context; exact Bayes floor) and CPython's docs
(python_docs, bytes). Literature arms on topics, 3 seeds: pre-LN+qk_norm
(Wortsman et al. 2023), DyT post and pre (Zhu et al. 2025). The LR grid of a
variant whose best LR (mean over seeds) sits at an edge grows by one grid step
on that side, at most twice (optim.lr_extend).

--full adds RMSNorm, BatchNorm and z-loss arms.
`:accel` (one GPU or TPU): no norm, post-LN and pre-LN, shared and unshared, at
d=256 and 8 layers, 3 LRs x 2 init seeds as lanes, 30.7M tokens per run: 36 runs.

Metric (lnexp.analysis.sensitivity): LR sensitivity with a common reference,
mean over the grid of min(final eval loss, ln V) minus the grid's best, a
diverged run counting at ln V; Wortsman et al.'s own-init version beside it.

--- rule claim-2 ---
Verdict rule, fixed before running. Claim 2 ("training can proceed smoothly
across a wider range of learning rates"): for each dataset and each of
post-LN and pre-LN, the paired difference over the 5 seeds of the common-
reference LR sensitivity, d = S(no norm) - S(LayerNorm) (positive: LayerNorm
less sensitive), 95% paired t-interval, minimum effect delta = 0.05 nats.
Outcome per comparison: supported (interval above +delta), contradicted
(below -delta), no effect (inside +-delta), inconclusive otherwise, and
inconclusive whenever either variant's best LR (mean over seeds) is at an
edge of its grid after extension. Verdict: the common outcome of the four
comparisons if they agree, else mixed (each listed). The same intervals
against ReZero and DeepNorm are reported beside, without a verdict; so are the
counts of trained, collapsed and diverged runs per variant.
Literature checks on topics (3 seeds, same interval and delta): Wortsman et
al. 2023 is reproduced if d = S(pre-LN) - S(pre-LN+qk_norm) is supported;
Zhu et al. 2025 (DyT matches LayerNorm) is reproduced if the best-LR final
eval loss of DyT minus LayerNorm, same placement, is "no effect" at
delta = 0.05 nats for both placements.
--- end rule ---
"""
import math
import os

import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Claim, Quote

ORDER = 11
RUNTIME = ('413 points of the claims model (lnexp.claims.sizes), 300 steps: 29.8 '
           'process-minutes on a 2-core CPU (2026-12-05; shards of 16 and 14 minutes under '
           '--jobs 2).')
ACCEL = True  # `--size accel` runs it
WIDER_RANGE = Quote(
    'Experimental results from models like AlbertAGPT demonstrate that with layer '
    'normalization, training can proceed smoothly across a wider range of learning rates, '
    'reducing the trial-and-error process often associated with deep learning.', '2',
    'no experimental results are cited or shown')
QUOTES = (
    Quote('AlbertAGPT utilizes layer normalization extensively to manage the flow of '
          'information between its layers, enhancing training stability.', '2',
          sizes.NO_ALBERTAGPT),
    Quote('For instance, in traditional training scenarios without normalization, slight '
          'variations in learning rate can lead to drastic changes in convergence behavior.',
          '2'),
    WIDER_RANGE)
CLAIMS = {'2': Claim('Learning-rate sensitivity', WIDER_RANGE.text)}

HEADLINE = sizes.variants(*sizes.HEADLINE)
ARMS = ({'model.norm': 'layernorm', 'model.placement': 'pre', 'model.qk_norm': True},
        {'model.norm': 'dyt', 'model.placement': 'post'},
        {'model.norm': 'dyt', 'model.placement': 'pre'})
FULL_ARMS = ({'model.norm': 'rmsnorm', 'model.placement': 'pre'},
             {'model.norm': 'batchnorm', 'model.placement': 'post'},
             {'model.norm': 'layernorm', 'model.placement': 'pre', 'optim.z_loss': 1e-4})


def get_config(arg=''):
  c = sizes.claims_config(sizes.size_of(arg))
  c.optim.lr_extend = sizes.lr_extend(sizes.size_of(arg))
  return c


def variants(size):
  """(data overrides, model variant, seeds) of the sweep."""
  topics, docs = {'data.source': 'topics'}, {'data.source': 'python_docs'}
  if size == 'smoke':  # one group: the test suite's run of the whole suite
    return [(topics, sizes.VARIANTS['layernorm-post'], sizes.seeds(size))]
  if size == 'quick':  # no norm against post- and pre-LN, topics only
    return [(topics, v, sizes.seeds(size)) for v in HEADLINE[:3]]
  if size == 'accel':  # shared (~0.8M parameters) and unshared (~6M), topics
    return [({**topics, 'model.share': share}, v, sizes.seeds(size))
            for share in ('all', 'none') for v in HEADLINE[:3]]
  main = [(data, v, sizes.seeds(size, headline=True)) for data in (topics, docs)
          for v in HEADLINE]
  arms = ARMS + (FULL_ARMS if size == 'full' else ())
  return main + [(topics, v, sizes.seeds(size)) for v in arms]


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  return [{**data, **variant, **seed, 'optim.lr': lr}
          for data, variant, seeds in variants(size)
          for seed in seeds for lr in sizes.lrs(size)]


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claim 2: common-reference LR sensitivity against no norm and the norm-free baselines."""
  from lnexp.analysis import sensitivity  # the report's extra: running needs none of it
  from lnexp.claims import evidence as ev
  from lnexp.claims import plots
  df = ev.load(workdir, point_ids)
  tables, figures, comparisons, beside, effects = [], [], [], [], []
  shares = df['model.share'].nunique() > 1  # the accel size runs shared and unshared
  df['sweep'] = df['data.source'] + (', share=' + df['model.share'] if shares else '')
  for source, d in df.groupby('sweep', sort=False):
    d = d.copy()
    sens = {(variant, seed): sensitivity.from_rows(g)
            for (variant, seed), g in d.groupby(['variant', 'seed'], sort=False)}
    best = {variant: ev.best_lr(g) for variant, g in d.groupby('variant', sort=False)}

    def of(variant, key):
      return {s: getattr(v, key) for (w, s), v in sens.items() if w == variant}
    rows = []
    for variant, g in d.groupby('variant', sort=False):
      b = best[variant]
      rows.append([variant, str(g['seed'].nunique()), ev.counts(g['label']),
                   ev.stat(g['init_loss']), ev.best_cell(b),
                   ev.stat([r['loss_or_ln_v'] for r in b.per_seed.values()]),
                   ev.stat(of(variant, 'common').values()),
                   ev.stat(of(variant, 'wortsman').values()),
                   ev.stat(of(variant, 'stable_decades').values(), 2)])
    floors = ''
    if 'bayes_loss' in d and d['bayes_loss'].notna().any():  # topics: context matters
      floors = (f'; Bayes-optimal loss {d["bayes_loss"].mean():.3f}, best loss from the '
                f'previous token alone {d["context_free_loss"].mean():.3f}')
    tables.append(ev.table(
        f'**{source}** (ln V = {math.log(d["vocab_size"].iloc[0]):.3f}{floors}): per '
        'variant over seeds (mean ± sd): runs trained/collapsed/diverged; initial loss '
        '(as training sees the model: batch statistics for BatchNorm); best LR (by the '
        'seed-mean loss; an edge means the optimum was not bracketed even after '
        'extending the grid); final eval loss at it; LR '
        'sensitivity with the common reference ln V (the rule\'s) and with each run\'s '
        'own initial loss (Wortsman et al. 2023); stable decades (consecutive LRs within '
        '0.1 nats of the best).',
        ['variant', 'seeds', 'trained/collapsed/diverged', 'initial loss', 'best LR',
         'loss at best LR',
         'LR sensitivity (ln V ref.)', 'LR sensitivity (own init)', 'stable decades'],
        rows))
    if 'none' not in best:
      continue
    for ln in ev.LN:
      if ln in best:
        comparisons.append(ev.compare(f'{source}: S(none) - S({ln})', of('none', 'common'),
                                      of(ln, 'common'), 0.05,
                                      edge=ev.edge(best['none'], best[ln]),
                                      label=f'{source} {ln}'))
      for baseline in ('rezero', 'layernorm-deepnorm'):
        if ln in best and baseline in best and baseline != ln:
          beside.append(ev.compare(f'{source}: S({baseline}) - S({ln})',
                                   of(baseline, 'common'), of(ln, 'common'), 0.05,
                                   edge=ev.edge(best[baseline], best[ln])))
    means = {v: np.mean(list(of(v, 'common').values())) for v in best}
    effects.append(f'{source}: LR sensitivity (ln V reference) ' + ', '.join(
        f'{v} {m:.3f}' for v, m in means.items() if '+' not in v and 'dyt' not in v))
    figures += plots.lr_curves(d, os.path.join(figdir, f'lr_{source}.png'),
                               f'Final eval loss vs peak LR ({source})')
  tables.append(ev.comparisons_table(
      'The rule\'s comparisons, d = S(no norm) - S(LayerNorm) per seed (positive: '
      'LayerNorm less LR-sensitive), and beside them the norm-free baselines against '
      'LayerNorm (no verdict).', comparisons + beside))
  verdict = ev.combine([c.outcome for c in comparisons])
  return [ev.Finding('2', verdict, '; '.join(effects) + '. Outcomes: ' + ', '.join(
      f'{c.label} {c.outcome}' for c in comparisons), tables, figures,
      [ev.SMALL_SCALE])] + literature(df)


def literature(df) -> list:
  """Wortsman et al. 2023 (qk_norm) and Zhu et al. 2025 (DyT) on the arms' data."""
  from lnexp.analysis import sensitivity
  from lnexp.claims import evidence as ev
  out = []
  arms = df[df['variant'].str.contains('qk_norm|dyt', regex=True)]
  if not len(arms):
    return out
  d = df[df['data.source'].isin(set(arms['data.source']))]
  d = d[d['seed'].isin(set(arms['seed']))]
  sens = {(v, s): sensitivity.from_rows(g).common
          for (v, s), g in d.groupby(['variant', 'seed'])}
  of = lambda v: {s: x for (w, s), x in sens.items() if w == v}  # noqa: E731
  best = {v: ev.best_lr(g) for v, g in d.groupby('variant')}
  if {'layernorm-pre', 'layernorm-pre+qk_norm'} <= set(best):
    c = ev.compare('S(pre-LN) - S(pre-LN+qk_norm)', of('layernorm-pre'),
                   of('layernorm-pre+qk_norm'), 0.05,
                   edge=ev.edge(best['layernorm-pre'], best['layernorm-pre+qk_norm']))
    out.append(ev.Finding('2-lit', ev.reproduced(c.outcome, 'supported'),
                          'Wortsman et al. 2023 (qk_norm lowers LR sensitivity): d = '
                          f'{ev.fmt_interval(c.interval)} nats', [], []))
  dyt = [ev.compare(f'loss(DyT-{p}) - loss(LN-{p})', ev.losses(best[f'dyt-{p}']),
                    ev.losses(best[f'layernorm-{p}']), 0.05,
                    edge=ev.edge(best[f'dyt-{p}'], best[f'layernorm-{p}']))
         for p in ('post', 'pre') if f'dyt-{p}' in best and f'layernorm-{p}' in best]
  if dyt:
    outcomes = [c.outcome for c in dyt] + ['inconclusive'] * (2 - len(dyt))  # both needed
    # a difference beyond delta either way: no match
    decisive = [o for o in outcomes if o in ('supported', 'contradicted')]
    out.append(ev.Finding(
        '2-dyt', ev.reproduced(decisive[0] if decisive else ev.combine(outcomes),
                               'no effect'),
        'Zhu et al. 2025 (DyT matches LayerNorm): best-LR final eval loss '
        + '; '.join(f'{c.name} {ev.fmt_interval(c.interval)}' for c in dyt), [], []))
  return out
