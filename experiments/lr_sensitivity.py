"""Claim 2: learning-rate sensitivity, against fair and norm-free baselines (claims v4).

  python -m lnexp.run --config experiments/lr_sensitivity.py[:quick|:full]

Core, at the learned size of lnexp.claims.sizes.learned_config (d=128, 2
ALBERT-shared layers, 2,000 steps of 16 x 64 tokens, the untied output layer
initialised at zero, so every variant starts at ln V; pilots in
docs/claims-v4-pilots.md): no norm, post-LN and pre-LN x 5 peak LRs
1e-3..1e-1 (half decades) x 5 seeds on `topics` (documents whose latent
topic must be inferred from context; exact Bayes floor) and on CPython's
docs (python_docs, bytes). On topics also: ReZero and DeepNorm (3 seeds,
exploratory), pre-LN+qk_norm (Wortsman et al. 2023), DyT post and pre (Zhu
et al. 2025), 5 seeds each.
The LR grid of a variant whose best LR (mean over seeds) sits at an edge
grows by one grid step on that side, at most twice (optim.lr_extend).
--full adds RMSNorm, BatchNorm and z-loss arms. `:accel` (one GPU or TPU): no
norm, post-LN and pre-LN, shared and unshared, at d=256 and 8 layers, 3 LRs x
2 init seeds as lanes, 30.7M tokens per run.

Metrics (lnexp.claims.scoring): LR sensitivity, the mean over the grid of the
final eval loss minus the grid's best, with every failed run (diverged or
collapsed, lnexp.measure.labels) counted at ln V; the same with failures at
the unigram entropy of the eval targets; and the number of grid LRs within
0.1 nats of the variant's best (stable LRs; x half a decade: stable decades).

--- rule claim-2-v4 ---
Verdict rule, fixed before running (claims v4). Claim 2 ("training can
proceed smoothly across a wider range of learning rates"): for each dataset
(topics, python_docs) and each of post-LN and pre-LN, LayerNorm against no
norm, both with the same fair initialisation, over 5 paired seeds, under the
three scorings of lnexp.claims.scoring: LR sensitivity with every failed run
(diverged or collapsed) at ln V; LR sensitivity with failed runs at the
unigram entropy of the eval targets; the number of grid LRs within 0.1 nats
of the variant's best. d is oriented so that positive means LayerNorm is
less sensitive (d = S(no norm) - S(LayerNorm); for stable LRs, n(LayerNorm) -
n(no norm)); 95% paired t-interval; minimum effect delta = 0.05 nats for the
two sensitivities and 1 LR for stable LRs. Each scoring's outcome: supported
(interval above +delta), contradicted (below -delta), no effect (inside
+-delta), inconclusive otherwise, and inconclusive whenever either
variant's best LR (mean over seeds) is at an edge of its grid after
extension. A comparison is supported (contradicted) only if all three
scorings are; if they differ it is fragile. The four comparisons are the
primary family: a supported or contradicted comparison whose Holm-adjusted p
over the four is >= 0.05 becomes inconclusive. Verdict: the common outcome of
the four comparisons, else mixed (each listed), named "early training" if
post-LN at its best LR on topics closes less than 75% of the gap between the
previous-token loss and the Bayes floor (seed mean). ReZero and DeepNorm
against LayerNorm on topics are reported beside, exploratory, without a
verdict; so are the counts of trained, collapsed and diverged runs.
Literature checks on topics (5 seeds, the same scorings and deltas):
Wortsman et al. 2023 is reproduced if S(pre-LN) - S(pre-LN+qk_norm) is
supported; Zhu et al. 2025 (DyT matches LayerNorm) is reproduced if the
best-LR final eval loss of DyT minus LayerNorm, same placement, is no effect
at delta = 0.05 nats for both placements, not reproduced if either is
supported or contradicted, else inconclusive.
--- end rule ---
"""
import math
import os

import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Change, Claim, Quote

ORDER = 11
VERSION = 4
RUNTIME = ('255 points of the learned-size claims model, 2,000 steps each: 356 process-'
           'minutes of group wall time on a 2-core CPU (2026-12-07, over two sessions, '
           'part of it beside a second suite on the same cores: about 240 alone).')
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
CHANGES = (
    Change('claim 2: model', 'd=64, 300 steps (0-10% of the topics context gap closed)',
           'd=128, 2,000 steps (post-LN: 91% closed, +0.02 nats from doubling)',
           'the v3 models had not learned the task (issue: claims v4; '
           'docs/claims-v4-pilots.md)'),
    Change('claim 2: initialisation', 'tied unit embeddings (LayerNorm variants started '
           '1.1-1.5 nats above ln V); no norm and ReZero with the embedding x 0.1',
           'untied output layer initialised at zero, embedding x 1, for every variant '
           '(every initial loss = ln V)',
           'a fair start for both sides; the pilots showed x 0.1 handicapped no norm'),
    Change('claim 2: failed runs', 'a diverged run at ln V, a collapsed one at its own loss',
           'three scorings (failures at ln V; at the unigram entropy; stable LRs); '
           'fragile unless they agree', 'v3 python_docs "supported" came from how '
           'failures were scored alone'),
    Change('claim 2: family', 'four comparisons, each at 95%',
           'Holm over the four primary comparisons', 'about 60 intervals in v3 without a '
           'family-wise treatment'),
    Change('claim 2: seeds and grid', '5 seeds (3 for the literature arms), 7 LRs 3e-4..3e-1',
           '5 seeds everywhere, 5 LRs 1e-3..1e-1 (extended at an edge)',
           'power; compute of the larger model'),
)

HEADLINE = [sizes.LEARNED_VARIANTS[n] for n in sizes.HEADLINE]
ARMS = ({'model.norm': 'layernorm', 'model.placement': 'pre', 'model.qk_norm': True},
        {'model.norm': 'dyt', 'model.placement': 'post'},
        {'model.norm': 'dyt', 'model.placement': 'pre'})
FULL_ARMS = ({'model.norm': 'rmsnorm', 'model.placement': 'pre'},
             {'model.norm': 'batchnorm', 'model.placement': 'post'},
             {'model.norm': 'layernorm', 'model.placement': 'pre', 'optim.z_loss': 1e-4})


def get_config(arg=''):
  c = sizes.learned_config(sizes.size_of(arg))
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
  seeds = sizes.seeds(size, headline=True)
  main = [(data, v, seeds) for data in (topics, docs) for v in HEADLINE[:3]]
  baselines = [(topics, v, sizes.seeds(size)) for v in HEADLINE[3:]]  # exploratory
  arms = ARMS + (FULL_ARMS if size == 'full' else ())
  return main + baselines + [(topics, v, seeds) for v in arms]


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  return [{**data, **variant, **seed, 'optim.lr': lr}
          for data, variant, seeds in variants(size)
          for seed in seeds for lr in sizes.learned_lrs(size)]


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claim 2: common-reference LR sensitivity against no norm and the norm-free baselines."""
  from lnexp.claims import evidence as ev  # the report's extra: running needs none of it
  from lnexp.claims import plots, regime, scoring
  df = ev.load(workdir, point_ids)
  tables, figures, comparisons, beside, effects, learned = [], [], [], [], [], []
  shares = df['model.share'].nunique() > 1  # the accel size runs shared and unshared
  df['sweep'] = df['data.source'] + (', share=' + df['model.share'] if shares else '')
  for source, d in df.groupby('sweep', sort=False):
    d = d.copy()
    best = {variant: ev.best_lr(g) for variant, g in d.groupby('variant', sort=False)}
    scored = {v: scoring.scores(g) for v, g in d.groupby('variant', sort=False)}
    rows = []
    for variant, g in d.groupby('variant', sort=False):
      b, sc = best[variant], scored[variant]
      rows.append([variant, str(g['seed'].nunique()), ev.counts(g['label']),
                   ev.stat(g['init_loss']), ev.best_cell(b),
                   ev.stat([r['loss_or_ln_v'] for r in b.per_seed.values()]),
                   ev.stat(sc.at_ln_v.values()), ev.stat(sc.at_unigram.values()),
                   ev.stat(sc.stable_lrs.values(), 1),
                   ev.stat(sc.stable_decades.values(), 2)])
    floors = ''
    if 'bayes_loss' in d and d['bayes_loss'].notna().any():  # topics: context matters
      floors = (f'; Bayes-optimal loss {d["bayes_loss"].mean():.3f}, best loss from the '
                f'previous token alone {d["context_free_loss"].mean():.3f}')
    tables.append(ev.table(
        f'**{source}** (ln V = {math.log(d["vocab_size"].iloc[0]):.3f}{floors}): per '
        'variant over seeds (mean ± sd): runs trained/collapsed/diverged; initial loss; '
        'best LR (by the seed-mean loss; an edge means the optimum was not bracketed '
        'even after extending the grid); final eval loss at it; the three scorings of '
        'the rule: LR sensitivity with failures at ln V and at the unigram entropy, '
        'stable LRs (within 0.1 nats of the best) and the same in decades.',
        ['variant', 'seeds', 'trained/collapsed/diverged', 'initial loss', 'best LR',
         'loss at best LR', 'S (failures at ln V)', 'S (failures at H)', 'stable LRs',
         'stable decades'], rows))
    if 'none' not in best:
      continue
    for ln in ev.LN:
      if ln in best:
        comparisons.append(scoring.compare(
            f'{source}: none vs {ln}', scored['none'], scored[ln], 0.05, 1,
            edge=ev.edge(best['none'], best[ln]), label=f'{source} {ln}'))
      for baseline in ('rezero', 'layernorm-deepnorm'):
        if ln in best and baseline in best and baseline != ln:
          beside.append(scoring.compare(
              f'{source}: {baseline} vs {ln}', scored[baseline], scored[ln], 0.05, 1,
              edge=ev.edge(best[baseline], best[ln]), primary=False))
    means = {v: np.mean(list(scored[v].at_ln_v.values())) for v in best}
    effects.append(f'{source}: LR sensitivity (failures at ln V) ' + ', '.join(
        f'{v} {m:.3f}' for v, m in means.items() if '+' not in v and 'dyt' not in v))
    if 'layernorm-post' in best and 'bayes_loss' in d and d['bayes_loss'].notna().any():
      learned.append(regime.closed_at_best(best['layernorm-post'].per_seed))
    figures += plots.lr_curves(d, os.path.join(figdir, f'lr_{source}.png'),
                               f'Final eval loss vs peak LR ({source})')
  judged = ev.family(comparisons + beside)
  tables.append(ev.comparisons_table(
      'The rule\'s comparisons under its three scorings (positive: LayerNorm less '
      'LR-sensitive; failures = diverged or collapsed runs), Holm over the four primary '
      'ones, and beside them the norm-free baselines against LayerNorm (exploratory).',
      judged))
  primary = [c for c in judged if c.primary]
  verdict = ev.combine([c.outcome for c in primary])
  early, scale = regime.scale_note(ev.LEARNED_SCALE, learned)
  return [ev.Finding('2', verdict + early,
                     '; '.join(effects) + '. Outcomes: ' + ', '.join(
                         f'{c.label} {c.outcome}' for c in primary), tables, figures,
                     [scale])] + literature(df)


def literature(df) -> list:
  """Wortsman et al. 2023 (qk_norm) and Zhu et al. 2025 (DyT) on the arms' data."""
  from lnexp.claims import evidence as ev
  from lnexp.claims import scoring
  out = []
  arms = df[df['variant'].str.contains('qk_norm|dyt', regex=True)]
  if not len(arms):
    return out
  d = df[df['data.source'].isin(set(arms['data.source']))]
  d = d[d['seed'].isin(set(arms['seed']))]
  best = {v: ev.best_lr(g) for v, g in d.groupby('variant')}
  if {'layernorm-pre', 'layernorm-pre+qk_norm'} <= set(best):
    scored = {v: scoring.scores(d[d['variant'] == v])
              for v in ('layernorm-pre', 'layernorm-pre+qk_norm')}
    c = scoring.compare('pre-LN vs pre-LN+qk_norm', scored['layernorm-pre'],
                        scored['layernorm-pre+qk_norm'], 0.05, 1,
                        edge=ev.edge(best['layernorm-pre'], best['layernorm-pre+qk_norm']))
    out.append(ev.Finding('2-lit', ev.reproduced(c.outcome, 'supported'),
                          'Wortsman et al. 2023 (qk_norm lowers LR sensitivity): d = ' +
                          '; '.join(f'{p.name.split(": ", 1)[1]} {ev.fmt_interval(p.interval)}'
                                    for p in c.comparisons), [], []))
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
