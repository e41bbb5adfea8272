"""Applies each experiment's verdict rule (its docstring's rule block) to its results.

One function per experiment: workdir + figure dir in, `Finding`s out. Every
number comes from results.jsonl, the per-point metrics files and, for claim
4 at initialization, forward passes of freshly initialised models (cached
beside the results). Comparisons and outcomes: lnexp.claims.evidence.
"""
from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import pandas as pd

from lnexp.analysis import report as lr_report
from lnexp.analysis import results, sensitivity
from lnexp.claims import evidence as ev
from lnexp.claims import plots
from lnexp.claims.evidence import combine, compare, stat
from lnexp.models.placements import PLACEMENTS

LN = ('layernorm-post', 'layernorm-pre')
SMALL_SCALE = ('small scale: the claims model (~56k parameters, ~0.3M tokens per run, '
               'lnexp.claims.sizes); larger models may behave differently')


@dataclasses.dataclass
class Finding:
  claim: str          # '1'..'9', or '2-lit' for a literature check
  verdict: str        # supported | contradicted | no effect | inconclusive | mixed | ...
  effect: str         # the effect size, one sentence
  tables: list[str]   # markdown, each with a caption line first
  figures: list[str]  # paths relative to the report
  notes: list[str] = dataclasses.field(default_factory=list)


# ----------------------------------------------------------------- helpers


def variant_name(row) -> str:
  """'none', 'rezero', 'layernorm-post', 'layernorm-pre+qk_norm',
  'batchnorm-post/cumulative'."""
  if row.get('model.arch') in ('lstm', 'cnn'):  # no placement variants compared
    return row['model.norm']
  placement = row['model.placement']
  if row['model.norm'] == 'none':
    return 'none' if PLACEMENTS[placement].moot_without_norm else placement
  name = f"{row['model.norm']}-{placement}"
  if row.get('model.qk_norm') is True:
    name += '+qk_norm'
  if (row.get('optim.z_loss') or 0) > 0:
    name += '+z_loss'
  if row['model.norm'] == 'batchnorm' and row.get('model.bn_axes') != 'batch':
    name += f"/{row['model.bn_axes']}"
  return name


def load(workdir: str, point_ids=None) -> pd.DataFrame:
  """Results rows (of `point_ids` only, if given: the sweep being reported) with
  `variant`, `seed`, `label` (trained/collapsed/diverged) and `loss_or_ln_v`."""
  df = results.load_results(workdir)
  if point_ids is not None:
    df = df[df['point_id'].isin(set(point_ids))].reset_index(drop=True)
  base = results.load_config(workdir)['base']
  for key in ('model.arch', 'model.norm', 'model.placement', 'model.qk_norm',
              'optim.z_loss', 'model.bn_axes', 'data.source', 'data.pack', 'model.share',
              'model.embed_scale',
              'model.num_layers', 'train.batch_size'):
    if key not in df:
      df[key] = base.get(key)
    df[key] = df[key].where(df[key].notna(), base.get(key))
  if 'collapsed' not in df:
    df['collapsed'] = None
  df['variant'] = df.apply(variant_name, axis=1).astype(object)
  seeds = results.seed_keys(df)
  df['seed'] = df[seeds].astype(str).agg('/'.join, axis=1) if seeds else '0'
  return ev.add_labels(df)


def table(caption: str, head: list[str], rows: list[list[str]]) -> str:
  return caption + '\n\n' + lr_report.markdown_table(head, rows)


def comparisons_table(caption: str, comparisons: list[ev.Comparison]) -> str:
  return table(caption, ev.HEAD, [c.row() for c in comparisons])


def metrics_of(workdir: str, df: pd.DataFrame) -> dict[str, pd.DataFrame]:
  return {pid: results.load_metrics(workdir, pid) for pid in df['point_id']}


def spearman(x, y) -> tuple[float, float, int]:
  """Spearman's rho and a two-sided permutation p-value (10,000, fixed seed)."""
  x, y = np.asarray(x, float), np.asarray(y, float)
  keep = np.isfinite(x) & np.isfinite(y)
  x, y = pd.Series(x[keep]).rank().to_numpy(), pd.Series(y[keep]).rank().to_numpy()
  n = len(x)
  if n < 3:
    return math.nan, math.nan, n
  rho = float(np.corrcoef(x, y)[0, 1])
  perms = np.random.default_rng(0).permuted(np.tile(y, (10_000, 1)), axis=1)
  null = np.array([np.corrcoef(x, p)[0, 1] for p in perms])
  return rho, float((np.abs(null) >= abs(rho)).mean()), n


def _series_mean(m: pd.DataFrame, prefix: str, suffix: str = '') -> float:
  """Mean over logged steps and entries of the list-valued metrics named prefix*suffix."""
  cols = [c for c in m if c.startswith(prefix) and c.endswith(suffix)]
  values = [np.nanmean(np.asarray([np.nan if x is None else x for x in v], dtype=float))
            for c in cols for v in m[c].dropna()]
  return float(np.nanmean(values)) if values else math.nan


def _edge(*bests: ev.Best) -> str | None:
  return '; '.join(f'{b.edge} of {b.lrs[0]:g}..{b.lrs[-1]:g}' for b in bests if b.edge) \
      or None


# ------------------------------------------------------------ claim 2


def lr_sensitivity(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 2: common-reference LR sensitivity against no norm and the norm-free baselines."""
  df = load(workdir, point_ids)
  tables, figures, comparisons, beside, effects, notes = [], [], [], [], [], []
  shares = df['model.share'].nunique() > 1  # the accel size runs shared and unshared
  df['sweep'] = df['data.source'] + (', share=' + df['model.share'] if shares else '')
  for source, d in df.groupby('sweep', sort=False):
    d = d.copy()
    sens, best = {}, {}
    for (variant, seed), g in d.groupby(['variant', 'seed'], sort=False):
      sens[(variant, seed)] = sensitivity.from_rows(g)
    for variant, g in d.groupby('variant', sort=False):
      best[variant] = ev.best_lr(g)

    def of(variant, key):
      return {s: getattr(v, key) for (w, s), v in sens.items() if w == variant}
    rows = []
    for variant, g in d.groupby('variant', sort=False):
      b = best[variant]
      rows.append([variant, str(g['seed'].nunique()), ev.counts(g['label']),
                   stat(g['init_loss']), f'{b.lr:g}' + (f' ({b.edge} edge)' if b.edge else ''),
                   stat([r['loss_or_ln_v'] for r in b.per_seed.values()]),
                   stat(of(variant, 'common').values()), stat(of(variant, 'wortsman').values()),
                   stat(of(variant, 'stable_decades').values(), 2)])
    floors = ''
    if 'bayes_loss' in d and d['bayes_loss'].notna().any():  # topics: context matters
      floors = (f'; Bayes-optimal loss {d["bayes_loss"].mean():.3f}, best loss from the '
                f'previous token alone {d["context_free_loss"].mean():.3f}')
    tables.append(table(
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
    for ln in LN:
      if ln in best:
        comparisons.append(compare(f'{source}: S(none) - S({ln})', of('none', 'common'),
                                   of(ln, 'common'), 0.05,
                                   edge=_edge(best['none'], best[ln]), label=f'{source} {ln}'))
      for baseline in ('rezero', 'layernorm-deepnorm'):
        if ln in best and baseline in best and baseline != ln:
          beside.append(compare(f'{source}: S({baseline}) - S({ln})', of(baseline, 'common'),
                                of(ln, 'common'), 0.05,
                                edge=_edge(best[baseline], best[ln])))
    means = {v: np.mean(list(of(v, 'common').values())) for v in best}
    effects.append(f'{source}: LR sensitivity (ln V reference) ' + ', '.join(
        f'{v} {m:.3f}' for v, m in means.items() if '+' not in v and 'dyt' not in v))
    figures += plots.lr_curves(d, os.path.join(figdir, f'lr_{source}.png'),
                               f'Final eval loss vs peak LR ({source})')
  tables.append(comparisons_table(
      'The rule\'s comparisons, d = S(no norm) - S(LayerNorm) per seed (positive: '
      'LayerNorm less LR-sensitive), and beside them the norm-free baselines against '
      'LayerNorm (no verdict).', comparisons + beside))
  verdict = combine([c.outcome for c in comparisons])
  return [Finding('2', verdict, '; '.join(effects) + '. Outcomes: ' + ', '.join(
      f'{c.label} {c.outcome}' for c in comparisons), tables, figures, notes + [SMALL_SCALE])] + _literature_2(df)


def _literature_2(df: pd.DataFrame) -> list[Finding]:
  """Wortsman et al. 2023 (qk_norm) and Zhu et al. 2025 (DyT) on the arms' data."""
  out = []
  arms = df[df['variant'].str.contains('qk_norm|dyt', regex=True)]
  if not len(arms):
    return out
  d = df[df['data.source'].isin(set(arms['data.source']))]
  seeds = set(arms['seed'])
  d = d[d['seed'].isin(seeds)]
  sens = {(v, s): sensitivity.from_rows(g).common
          for (v, s), g in d.groupby(['variant', 'seed'])}
  of = lambda v: {s: x for (w, s), x in sens.items() if w == v}  # noqa: E731
  best = {v: ev.best_lr(g) for v, g in d.groupby('variant')}
  if {'layernorm-pre', 'layernorm-pre+qk_norm'} <= set(best):
    c = compare('S(pre-LN) - S(pre-LN+qk_norm)', of('layernorm-pre'),
                of('layernorm-pre+qk_norm'), 0.05,
                edge=_edge(best['layernorm-pre'], best['layernorm-pre+qk_norm']))
    out.append(Finding('2-lit', _reproduced(c.outcome, 'supported'),
                       'Wortsman et al. 2023 (qk_norm lowers LR sensitivity): d = '
                       f'{ev.fmt_interval(c.interval)} nats', [], []))
  dyt = []
  for placement in ('post', 'pre'):
    a, b = f'dyt-{placement}', f'layernorm-{placement}'
    if a in best and b in best:
      loss = lambda v: {s: r['loss_or_ln_v'] for s, r in best[v].per_seed.items()}  # noqa
      dyt.append(compare(f'loss(DyT-{placement}) - loss(LN-{placement})', loss(a), loss(b),
                         0.05, edge=_edge(best[a], best[b])))
  if dyt:
    outcomes = [c.outcome for c in dyt] + ['inconclusive'] * (2 - len(dyt))  # both needed
    # a difference beyond delta either way: no match
    decisive = [o for o in outcomes if o in ('supported', 'contradicted')]
    out.append(Finding('2-dyt', _reproduced(decisive[0] if decisive else combine(outcomes),
                                            'no effect'),
                       'Zhu et al. 2025 (DyT matches LayerNorm): best-LR final eval loss '
                       + '; '.join(f'{c.name} {ev.fmt_interval(c.interval)}' for c in dyt),
                       [], []))
  return out


def _reproduced(outcome: str, predicted: str) -> str:
  """A literature check's verdict: reproduced when the outcome is the one the
  paper predicts, inconclusive when the data cannot tell, not reproduced otherwise."""
  if outcome == predicted:
    return 'reproduced'
  if outcome == 'inconclusive':
    return outcome
  return 'inconclusive (mixed)' if outcome == 'mixed' else f'not reproduced ({outcome})'


# ------------------------------------------------------------ claims 1 and 4


def _spread(values) -> float:
  """max / min over depth (NaN unless every value is finite and positive)."""
  if values is None or not np.all(np.isfinite(values)) or values.min() <= 0:
    return math.nan
  return float(values.max() / values.min())


def _growth(rms) -> float:
  """RMS after the last block / after the first (NaN if either is not finite)."""
  if rms is None or not np.isfinite(rms[[0, -1]]).all() or rms[0] <= 0:
    return math.nan
  return float(rms[-1] / rms[0])


def _converged(m: pd.DataFrame, steps: int) -> bool:
  """Eval loss fell by < 0.01 nats over the last 20% of steps."""
  evals = m[m['eval_loss'].notna()] if 'eval_loss' in m else m.iloc[:0]
  window = evals[evals['step'] >= 0.8 * steps]
  if len(window) < 2:
    return False
  return bool(window['eval_loss'].iloc[0] - window['eval_loss'].iloc[-1] < 0.01)


def init_depths(run_depths) -> list[int]:
  """Powers of two from the shallowest run depth to twice the deepest."""
  lo, hi = min(run_depths), 2 * max(run_depths)
  return [2 ** k for k in range(int(math.log2(lo)), int(math.log2(hi)) + 1)]


def perturbation_at_init(workdir: str, df: pd.DataFrame) -> pd.DataFrame:
  """lnexp.measure.perturbation at init for every variant and seed of `df` over
  `init_depths`; cached in WORKDIR/perturbation_init.csv (forward passes only)."""
  path = os.path.join(workdir, 'perturbation_init.csv')
  depths = init_depths(df['model.num_layers'].unique())
  seeds = sorted({int(s) for s in df['train.seed']})
  wanted = {(v, d, s) for v in df['variant'].unique() for d in depths for s in seeds}
  if os.path.isfile(path):
    cached = pd.read_csv(path)
    if set(zip(cached['variant'], cached['depth'], cached['seed'])) == wanted:
      return cached
  from lnexp import config as config_lib
  from lnexp.measure import perturbation
  config = results.load_config(workdir)
  flat = {k: v for k, v in config['base'].items() if k != 'model.vocab_size'}
  base = config_lib.apply_overrides(config_lib.base_config(), flat)
  keys = [k for k in results.swept_keys(config) if k.startswith('model.')
          and k != 'model.num_layers']
  variants = {}
  for variant, g in df.groupby('variant', sort=False):
    row = g.iloc[0]
    variants[variant] = {k: row[k].item() if isinstance(row[k], np.generic) else row[k]
                         for k in keys if k in row and not pd.isna(row[k])}
  out = perturbation.at_init(variants, depths, seeds, base=base)
  out.to_csv(path + '.tmp', index=False)
  os.replace(path + '.tmp', path)
  return out


def depth(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claims 1 (gradient spread over depth) and 4 (error amplification)."""
  df = load(workdir, point_ids)
  metrics = metrics_of(workdir, df)
  ms = [metrics[p] for p in df['point_id']]
  df['spread_init'] = [_spread(results.depth_value(m, 'depth/grad_flow', 'first')) for m in ms]
  df['spread_end'] = [_spread(results.depth_value(m, 'depth/grad_flow')) for m in ms]
  df['growth'] = [_growth(results.depth_value(m, 'depth/residual_rms')) for m in ms]
  steps = results.load_config(workdir)['base']['train.steps']
  df['converged'] = [_converged(m, steps) for m in ms]
  depths = sorted(df['model.num_layers'].unique())
  deepest = depths[-1]
  rows = []
  order = {v: i for i, v in enumerate(dict.fromkeys(df['variant']))}
  for (_, d, variant), g in df.assign(order=df['variant'].map(order)).groupby(
      ['order', 'model.num_layers', 'variant']):
    rows.append([variant, str(d), f"{g['optim.lr'].iloc[0]:g} / "
                 f"{g['optim.warmup_steps'].iloc[0]:g}", ev.counts(g['label']),
                 f"{int(g['converged'].sum())}/{len(g)}", stat(g['final_eval_loss']),
                 ev.median(g['spread_init']), ev.median(ev.trained_only(g, 'spread_end')),
                 ev.median(ev.trained_only(g, 'perturb_amplification')),
                 ev.median(ev.trained_only(g, 'perturb_kl')), ev.median(g['growth'])])
  tables = [table(
      'Per variant and depth, over seeds, at the tuned LR / warm-up steps '
      '(experiments/depth_tune.py): runs trained/collapsed/diverged; converged (eval '
      'loss fell < 0.01 nats over the last 20% of steps); final eval loss (mean ± sd); '
      'gradient spread, max / min over depth of the gradient norm after each block, at '
      'step 1 and at the end; error amplification and KL of the trained model '
      '(lnexp.measure.perturbation, eps = 1e-3 after block 1); residual growth (last / first '
      'block RMS, the old claim-4 metric, ~1 by construction in post-LN). Medians '
      '(IQR); end-of-training diagnostics over trained runs only.',
      ['variant', 'depth', 'LR / warm-up', 'trained/collapsed/diverged', 'converged',
       'final eval loss', 'spread at init', 'spread at end', 'amplification (trained)',
       'KL (trained)', 'residual growth'], rows)]
  init = perturbation_at_init(workdir, df)
  init['seed'] = init['seed'].astype(str)
  init_rows = [[v] + [ev.median(g[g['depth'] == L]['amplification'])
                      for L in sorted(init['depth'].unique())]
               for v, g in init.groupby('variant', sort=False)]
  tables.append(table(
      'Error amplification at initialization (relative deviation after the last block / '
      'eps, eps = 1e-3 injected after block 1; > 1: the error grows), median (IQR) over '
      'seeds, per depth (forward passes only; cached in perturbation_init.csv).',
      ['variant'] + [f'depth {L}' for L in sorted(init['depth'].unique())], init_rows))

  deep = df[df['model.num_layers'] == deepest]

  def at(variant, column, trained=False):
    g = deep[deep['variant'] == variant]
    values = ev.trained_only(g, column) if trained else g[column]
    return dict(zip(g['train.seed'].astype(str), values))
  c1 = [compare(f'depth {deepest}, init: log spread(none) - log spread(post-LN)',
                at('none', 'spread_init'), at('layernorm-post', 'spread_init'),
                math.log(1.5), log=True),
        compare(f'depth {deepest}, end: log spread(none) - log spread(post-LN)',
                at('none', 'spread_end', True), at('layernorm-post', 'spread_end', True),
                math.log(1.5), log=True)]
  top = int(init['depth'].max())
  amp0 = lambda v: {s: a for s, a in zip(  # noqa: E731
      init[(init['variant'] == v) & (init['depth'] == top)]['seed'],
      init[(init['variant'] == v) & (init['depth'] == top)]['amplification'])}
  c4 = [compare(f'depth {top}, init: log amp(none) - log amp(post-LN)', amp0('none'),
                amp0('layernorm-post'), math.log(1.25), log=True),
        compare(f'depth {deepest}, trained: log amp(none) - log amp(post-LN)',
                at('none', 'perturb_amplification', True),
                at('layernorm-post', 'perturb_amplification', True), math.log(1.25),
                log=True)]
  beside = [compare(f'depth {top}, init: log amp(none) - log amp({v})', amp0('none'),
                    amp0(v), math.log(1.25), log=True)
            for v in init['variant'].unique() if v not in ('none', 'layernorm-post')]
  not_converged = df[~df['converged'] & df['label'].eq(ev.TRAINED)]
  notes = [SMALL_SCALE]
  if len(not_converged):
    notes.append('not converged by the convergence rule (still falling >= 0.01 nats over '
                 'the last 20% of steps): ' + ', '.join(
                     f'{v} depth {d} ({len(g)})' for (v, d), g in
                     not_converged.groupby(['variant', 'model.num_layers'])))
  for variant, g in deep.groupby('variant', sort=False):
    failed = g[~g['label'].eq(ev.TRAINED)]
    if len(failed):
      notes.append(f'{variant} at depth {deepest} did not train in {len(failed)}/{len(g)} '
                   f'seeds at its tuned LR and warm-up ({ev.counts(g["label"])} '
                   'trained/collapsed/diverged)')
  figures = plots.depth_profiles(deep, metrics, os.path.join(figdir, 'depth_profiles.png'))
  post = deep[deep['variant'] == 'layernorm-post']
  amp_top = lambda v: ev.median(  # noqa: E731
      init[(init['variant'] == v) & (init['depth'] == top)]['amplification'])
  return [
      Finding('1', combine([c.outcome for c in c1]),
              f'depth {deepest}: gradient spread (max/min over blocks, median) post-LN '
              f"{ev.median(post['spread_init'])} at init, none "
              f"{ev.median(deep[deep['variant'] == 'none']['spread_init'])}; outcomes "
              + ', '.join(c.outcome for c in c1),
              tables[:1] + [comparisons_table('The rule\'s comparisons (d > 0: post-LN\'s '
                                              'gradients more even over depth).', c1)],
              figures, notes),
      Finding('4', combine([c.outcome for c in c4]),
              f'error amplification at depth {top} at init (median), none '
              f"{amp_top('none')} vs post-LN {amp_top('layernorm-post')}; outcomes "
              + ', '.join(c.outcome for c in c4),
              tables + [comparisons_table('The rule\'s comparisons (d > 0: post-LN damps '
                                          'the error more), and the other variants at '
                                          'init beside (no verdict).', c4 + beside)],
              figures, notes),
  ]


# ------------------------------------------------------------ claim 5


def covariate_shift(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 5: Santurkar et al.'s ICS (unshared) and relative drift (both shares)."""
  df = load(workdir, point_ids)
  metrics = metrics_of(workdir, df)
  df['ics'] = [_series_mean(metrics[p], 'ics_santurkar_rel') for p in df['point_id']]
  df['drift'] = [_relative_drift(metrics[p]) for p in df['point_id']]
  df['ics'] = ev.trained_only(df, 'ics')
  rows, comps, notes = [], [], [SMALL_SCALE]
  for (share, lr, variant), g in df.groupby(['model.share', 'optim.lr', 'variant'],
                                            sort=False):
    rows.append([share, f'{lr:g}', variant, ev.counts(g['label']),
                 ev.median(g['ics']) if share == 'none' else '-',
                 ev.median(ev.trained_only(g, 'drift')), stat(g['final_eval_loss'])])
  unshared = df[df['model.share'] == 'none']
  for lr, g in unshared.groupby('optim.lr'):
    for ln in LN:
      comps.append(compare(f'LR {lr:g}: log ICS(none) - log ICS({ln})',
                           ev.by_seed(g[g['variant'] == 'none'], 'ics'),
                           ev.by_seed(g[g['variant'] == ln], 'ics'), math.log(1.25),
                           log=True))
    rho, p, n = spearman(g['ics'], g['final_eval_loss'].where(g['label'].eq(ev.TRAINED)))
    notes.append(f'LR {lr:g}: Spearman rho(ICS, final eval loss) over {n} trained unshared '
                 f'runs = {rho:.2f} (permutation p = {p:.3f})')
  verdict = combine([c.outcome for c in comps])
  med = unshared.groupby('variant')['ics'].median()
  return [Finding(
      '5', verdict, 'relative ICS (Santurkar et al. 2018), median over LRs and seeds: '
      + ', '.join(f'{v} {x:.3g}' for v, x in med.items()) + '; outcomes '
      + ', '.join(c.outcome for c in comps),
      [table('Per share, LR and variant: runs trained/collapsed/diverged; Santurkar et '
             'al. ICS ||G - G\'|| / ||G|| (mean over layers and diagnostic steps; '
             'unshared only); relative drift of what each sublayer sees (its input: the '
             'norm output in pre-LN, the residual stream otherwise; RMS change of the '
             'feature means between diagnostics 20 steps apart / the input\'s spread); '
             'medians (IQR); final eval loss.',
             ['share', 'LR', 'variant', 'trained/collapsed/diverged', 'ICS (relative)',
              'drift (relative)', 'final eval loss'], rows),
       comparisons_table('The rule\'s comparisons (d > 0: LayerNorm less shift).', comps)],
      [], notes)]


def _relative_drift(m: pd.DataFrame) -> float:
  """RMS change of the per-feature means of each sublayer's input between
  diagnostics, over the input's RMS spread: what the sublayer sees move."""
  drift = _series_mean(m, 'ics_drift/', '_sub_mean')
  var = _series_mean(m, 'depth/', '_sub_in_var')
  return drift / math.sqrt(var) if var > 0 else math.nan


# ------------------------------------------------------------ claim 1b


def gradient_scaling(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 1b: Xiong et al. 2020's last-layer gradient norm vs depth."""
  from lnexp.claims import stats
  df = load(workdir, point_ids)
  metrics = metrics_of(workdir, df)
  df['last_layer_grad'] = [_last_layer_grad(metrics[p]) for p in df['point_id']]
  depths = sorted(df['model.num_layers'].unique())
  slopes = {}
  for (variant, seed), g in df.groupby(['variant', 'seed']):
    g = g.sort_values('model.num_layers')
    slopes.setdefault(variant, {})[seed] = float(np.polyfit(
        np.log(g['model.num_layers']), np.log(g['last_layer_grad']), 1)[0])
  intervals = {v: stats.paired_interval(s, {k: 0.0 for k in s}) for v, s in slopes.items()}
  rows = [[variant] + [stat(g[g['model.num_layers'] == L]['last_layer_grad'], 3)
                       for L in depths] + [ev.fmt_interval(intervals[variant])]
          for variant, g in df.groupby('variant', sort=False)]
  post, pre = intervals.get('layernorm-post'), intervals.get('layernorm-pre')
  flat = post is not None and -0.15 <= post.low and post.high <= 0.15
  falling = pre is not None and pre.high < -0.25
  verdict = ('reproduced' if flat and falling else 'not reproduced'
             if not (flat or falling) else
             f'partly reproduced ({"post-LN flat" if flat else "pre-LN falling"} only)')
  return [Finding(
      '1b', verdict,
      f'slope of log(last-layer gradient norm) on log(depth): post-LN '
      f'{ev.fmt_interval(post) if post else "-"}, pre-LN {ev.fmt_interval(pre) if pre else "-"}'
      f' (Xiong et al. predict 0 and -0.5)',
      [table('Gradient norm of the last layer\'s weights at initialization '
             '(unshared, clipping off), mean ± sd over seeds, and its log-log slope in '
             'depth with the 95% t-interval over seeds.',
             ['variant'] + [f'depth {L}' for L in depths] + ['slope'], rows)],
      plots.scaling(df, os.path.join(figdir, 'gradient_scaling.png')))]


def _last_layer_grad(m: pd.DataFrame) -> float:
  """The last layer's attention and MLP weight-gradient norms in quadrature (norms' own
  gain and bias excluded, as the rule says)."""
  cols = [c for c in ('layer_grad_norm/attn', 'layer_grad_norm/mlp') if c in m]
  first = m[m[cols[0]].notna()].iloc[0] if cols else None
  if first is None:
    return math.nan
  return float(np.sqrt(sum(float(first[c][-1]) ** 2 for c in cols)))


# ------------------------------------------------------------ claim 3


def hyperparams(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 3: spread of final eval loss over warm-up, init scale, batch size."""
  df = load(workdir, point_ids)
  config = results.load_config(workdir)
  factors = ('optim.warmup_steps', 'model.init_scale', 'train.batch_size')
  # The centre is the one value of each factor that every other factor's points share.
  centre = {k: pd.Series([p[k] for p in config['sweep']]).mode()[0] for k in factors}
  rows, comps = [], []
  for factor in factors:
    others = [k for k in factors if k != factor]
    on_axis = df[np.logical_and.reduce([np.isclose(df[k], centre[k]) for k in others])]
    spread = on_axis.groupby(['variant', 'seed'])['loss_or_ln_v'].agg(
        lambda s: s.max() - s.min()).reset_index(name='spread')
    values = ', '.join(f'{v:g}' for v in sorted(on_axis[factor].unique()))
    for variant, g in spread.groupby('variant', sort=False):
      labels = on_axis[on_axis['variant'] == variant]['label']
      rows.append([factor, values, variant, ev.counts(labels), stat(g['spread'])])
    for ln in LN:
      comps.append(compare(f'{factor}: spread(none) - spread({ln})',
                           ev.by_seed(spread[spread['variant'] == 'none'], 'spread'),
                           ev.by_seed(spread[spread['variant'] == ln], 'spread'), 0.05,
                           label=f"{factor.partition('.')[2]}/{ln}"))
  return [Finding(
      '3', combine([c.outcome for c in comps]), 'outcomes per factor: ' + ', '.join(
          f'{c.label} {c.outcome}' for c in comps),
      [table('Spread (max - min) of final eval loss over one factor\'s values, the '
             'others at the centre; a diverged run counts at ln V; runs trained/'
             'collapsed/diverged on that axis; mean ± sd over seeds.',
             ['factor', 'values', 'variant', 'trained/collapsed/diverged', 'spread (nats)'],
             rows),
       comparisons_table('The rule\'s comparisons (d > 0: LayerNorm less sensitive).',
                         comps)],
      plots.factor_curves(df, factors, centre, os.path.join(figdir, 'hyperparams.png')),
      [SMALL_SCALE])]


# ------------------------------------------------------------ claim 6


def generalization(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 6: eval-minus-train gap at matched train loss on a small corpus."""
  df = load(workdir, point_ids)
  metrics = metrics_of(workdir, df)
  curves = {p: _smoothed(metrics[p]) for p in df['point_id']}
  for pid, hit in _matched(df, curves).items():
    c = curves[pid]
    at = hit if hit is not None else c.iloc[-1]
    df.loc[df['point_id'] == pid, ['matched_step', 'matched_gap', 'final_gap',
                                   'final_train']] = [
        at['step'], at['eval'] - at['train'], c['eval'].iloc[-1] - c['train'].iloc[-1],
        c['train'].iloc[-1]]
  df['matched_gap'] = ev.trained_only(df, 'matched_gap')
  rows = [[v, ev.counts(g['label']), stat(g['matched_gap']), stat(g['matched_step'], 0),
           stat(g['final_gap']), stat(g['final_train']), stat(g['final_eval_loss'])]
          for v, g in df.groupby('variant', sort=False)]
  comps = [compare(f'gap(none) - gap({ln})', ev.by_seed(df[df['variant'] == 'none'],
                                                        'matched_gap'),
                   ev.by_seed(df[df['variant'] == ln], 'matched_gap'), 0.05, label=ln)
           for ln in LN]
  return [Finding(
      '6', combine([c.outcome for c in comps]),
      'gap at matched train loss, d = gap(none) - gap(LN): ' + ', '.join(
          f'{c.label} {ev.fmt_interval(c.interval)} {c.outcome}' for c in comps),
      [table('Eval minus train loss (train smoothed over 5 logs) at the first log where '
             'train loss reaches the highest final train loss of the seed\'s variants, '
             'and at the end; mean ± sd over seeds (the matched gap over trained runs).',
             ['variant', 'trained/collapsed/diverged', 'gap at matched train loss',
              'matched at step', 'final gap', 'final train loss', 'final eval loss'], rows),
       comparisons_table('The rule\'s comparisons (d > 0: LayerNorm regularizes).', comps)],
      plots.gap_curves(df, curves, os.path.join(figdir, 'generalization.png')),
      [SMALL_SCALE])]


def _matched(df: pd.DataFrame, curves: dict) -> dict:
  """Per point: the first log row of its smoothed curve at or below its seed's
  target, the highest final smoothed train loss among the seed's trained points
  (None if never reached)."""
  hits = {}
  for _, s in df.groupby('seed'):
    finals = [curves[p]['train'].iloc[-1] for p, label in zip(s['point_id'], s['label'])
              if label == ev.TRAINED and len(curves[p])]
    finals = [f for f in finals if np.isfinite(f)]
    target = max(finals) if finals else -math.inf  # no trained run: nothing matches
    for pid in s['point_id']:
      hit = curves[pid][curves[pid]['train'] <= target]
      hits[pid] = hit.iloc[0] if len(hit) else None
  return hits


def _smoothed(m: pd.DataFrame) -> pd.DataFrame:
  both = m[m['eval_loss'].notna() & m['train_loss'].notna()] if 'eval_loss' in m else m
  train = m['train_loss'].rolling(5, min_periods=1).mean()
  return pd.DataFrame({'step': both['step'].to_numpy(),
                       'train': train[both.index].to_numpy(),
                       'eval': both['eval_loss'].to_numpy()})


# ------------------------------------------------------------ claim 7


def batchnorm_text(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 7: LayerNorm vs causal BatchNorm, padded vs packed, over batch sizes."""
  df = load(workdir, point_ids)
  metrics = metrics_of(workdir, df)
  df['bn_dist'] = [_bn_distance(metrics[p]) for p in df['point_id']]
  df['mismatch'] = df['final_eval_loss'] - df['final_eval_loss_batch_stats']
  df['data'] = np.where(df['data.pack'].astype(bool), 'packed', 'padded')
  best, rows = {}, []
  for (variant, data, batch), g in df.groupby(['variant', 'data', 'train.batch_size'],
                                              sort=False):
    b = best[(variant, data, batch)] = ev.best_lr(g)
    at = pd.DataFrame(list(b.per_seed.values()))
    batch1 = [stat(at[k]) if k in at else '-' for k in ('batch1_loss_running',
                                                        'batch1_loss_batch_stats')]
    rows.append([variant, data, str(batch), str(g['seed'].nunique()), ev.counts(g['label']),
                 f'{b.lr:g}' + (f' ({b.edge} edge)' if b.edge else ''),
                 stat(at['loss_or_ln_v']), stat(at['final_eval_loss_batch_stats']),
                 stat(at['mismatch']), *batch1, ev.median(at['bn_dist'])])

  def loss(variant, data, batch):
    b = best.get((variant, data, batch))
    return {s: r['loss_or_ln_v'] for s, r in b.per_seed.items()} if b else {}
  ln, bn = 'layernorm-post', 'batchnorm-post'
  batches = [b for b in sorted(df['train.batch_size'].unique()) if b <= 32]  # the rule's

  comps, interaction, beside = [], [], []
  for batch in batches:
    if (ln, 'padded', batch) in best and (bn, 'padded', batch) in best:
      comps.append(compare(f'padded, batch {batch}: loss(causal BN) - loss(LN)',
                           loss(bn, 'padded', batch), loss(ln, 'padded', batch), 0.02,
                           edge=_edge(best[(bn, 'padded', batch)],
                                      best[(ln, 'padded', batch)]), label=f'B={batch}'))
    packed, padded = _difference(loss(bn, 'packed', batch), loss(ln, 'packed', batch)), \
        _difference(loss(bn, 'padded', batch), loss(ln, 'padded', batch))
    if packed:  # the seeds the packed control ran (a seed missing elsewhere: missing)
      interaction.append(compare(f'batch {batch}: d(padded) - d(packed)',
                                 {s: padded.get(s) for s in packed}, packed, 0.02))
    for other in ('powernorm-post', 'batchnorm-post/cumulative'):
      if (other, 'padded', batch) in best:
        theirs = loss(other, 'padded', batch)  # run at fewer seeds: pair on those
        beside.append(compare(f'padded, batch {batch}: loss({other}) - loss(LN)', theirs,
                              {s: loss(ln, 'padded', batch).get(s) for s in theirs}, 0.02,
                              edge=_edge(best[(other, 'padded', batch)],
                                         best[(ln, 'padded', batch)])))
  findings = [Finding(
      '7', combine([c.outcome for c in comps]),
      'padded data, d = loss(causal BN) - loss(LN) at the best LRs: ' + '; '.join(
          f'{c.label} {ev.fmt_interval(c.interval)} {c.outcome}' for c in comps),
      [table('Per variant, data and batch size: seeds; runs trained/collapsed/diverged; '
             'best LR (seed-mean; an edge: not bracketed after extension); final eval '
             'loss there (running statistics for BatchNorm; diverged at ln V); eval loss '
             'with each eval batch\'s own statistics; the mismatch (running minus batch '
             'statistics); inference one sequence at a time (the low-resource setting: '
             '8 eval sequences, running statistics, then each sequence\'s own '
             'statistics; a causal BatchNorm position with one sample falls back to the '
             'running ones); the batch-vs-running statistic distance (Shen et al. 2020; '
             'median over seeds). Mean ± sd over seeds. Entropy floor '
             f"{df['entropy_floor'].mean():.3f} nats.",
             ['variant', 'data', 'batch', 'seeds', 'trained/collapsed/diverged', 'best LR',
              'final eval loss', 'batch-stats eval loss', 'mismatch', 'batch 1: running',
              'batch 1: own stats', 'BN stat distance'],
             rows),
       comparisons_table('The rule\'s comparisons (d > 0: LayerNorm better), the '
                         'interaction with variable length (d > 0: the gap is larger on '
                         'padded data), and the other norms against LayerNorm beside.',
                         comps + interaction + beside)],
      plots.batch_curves(pd.DataFrame([r for b in best.values() for r in
                                       b.per_seed.values()]).assign(
          variant=lambda f: f['variant'] + '/' + f['data']),
          os.path.join(figdir, 'batchnorm_text.png')), [SMALL_SCALE])]
  small, large = batches[0], 32
  if (bn, 'padded', small) in best and (bn, 'padded', large) in best and small != large:
    dist = lambda b: {s: r['bn_dist'] for s, r in best[(bn, 'padded', b)].per_seed.items()}  # noqa
    c = compare(f'log dist(batch {small}) - log dist(batch {large})', dist(small),
                dist(large), math.log(1.25), log=True)
    findings.append(Finding(
        '7-lit', _reproduced(c.outcome, 'supported'), 'Shen et al. 2020 (batch statistics '
        'fluctuate more in small batches): causal BatchNorm\'s batch-vs-running distance ratio '
        f'{ev.fmt_interval(c.interval, log=True)}', [], []))
  return findings


def _bn_distance(m: pd.DataFrame) -> float:
  cols = [c for c in m if c.endswith('bn_mean_dist')]
  values = [np.nanmean(results.depth_value(m, c)) for c in cols
            if results.depth_value(m, c) is not None]
  return float(np.mean(values)) if values else math.nan


# ------------------------------------------------------------ claim 8


def lstm_covariate_shift(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 8: hidden-state variance over time and loss at each variant's best LR."""
  df = load(workdir, point_ids)
  metrics = metrics_of(workdir, df)
  cv = {}
  for pid, m in metrics.items():
    var_T = results.depth_value(m, 'time/hidden_var')
    cv[pid] = float(np.std(var_T) / np.mean(var_T)) if var_T is not None else math.nan
  df['hidden_var_cv'] = df['point_id'].map(cv)
  df['hidden_var_cv'] = ev.trained_only(df, 'hidden_var_cv')
  best = {v: ev.best_lr(g) for v, g in df.groupby('variant', sort=False)}
  rows = []
  for variant, b in best.items():
    at = pd.DataFrame(list(b.per_seed.values()))
    g = df[df['variant'] == variant]
    rows.append([variant, ev.counts(g['label']), f'{b.lr:g}' + (f' ({b.edge} edge)' if
                                                               b.edge else ''),
                 ', '.join(f'{x:g}' for x in b.lrs), ev.median(at['hidden_var_cv']),
                 stat(at['loss_or_ln_v'])])
  comps = []
  if {'none', 'layernorm'} <= set(best):
    at = lambda v, k: {s: r[k] for s, r in best[v].per_seed.items()}  # noqa: E731
    edge = _edge(best['none'], best['layernorm'])
    comps = [compare('log CV(none) - log CV(LayerNorm)', at('none', 'hidden_var_cv'),
                     at('layernorm', 'hidden_var_cv'), math.log(1.25), log=True, edge=edge),
             compare('loss(none) - loss(LayerNorm)', at('none', 'loss_or_ln_v'),
                     at('layernorm', 'loss_or_ln_v'), 0.02, edge=edge)]
  return [Finding(
      '8', combine([c.outcome for c in comps]), 'LayerNorm vs none at each best LR: '
      + '; '.join(f'{c.name} {ev.fmt_interval(c.interval, c.log)} {c.outcome}'
                  for c in comps),
      [table('Per variant: runs trained/collapsed/diverged over the whole grid; best LR '
             '(seed-mean) and the grid as run (extended where the best sat at an edge); '
             'at the best LR: coefficient of variation over time steps of the '
             'hidden-state variance (median, IQR; trained runs) and final eval loss.',
             ['variant', 'trained/collapsed/diverged', 'best LR', 'grid', 'hidden-variance CV',
              'final eval loss'], rows),
       comparisons_table('The rule\'s comparisons (d > 0: as the article predicts).',
                         comps)],
      plots.time_profiles(pd.DataFrame([r for b in best.values() for r in
                                        b.per_seed.values()]), metrics,
                          os.path.join(figdir, 'hidden_variance.png')), [SMALL_SCALE])]


# ------------------------------------------------------------ claim 9


def cnn_depth(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 9: activation growth with depth, accuracy per norm."""
  df = load(workdir, point_ids)
  metrics = metrics_of(workdir, df)
  df['growth'] = [_growth(results.depth_value(metrics[p], 'depth/residual_rms'))
                  for p in df['point_id']]
  df['growth'] = ev.trained_only(df, 'growth')
  depths = sorted(df['model.num_layers'].unique())
  deepest = df[df['model.num_layers'] == depths[-1]]
  at = deepest[np.isclose(deepest['optim.lr'], 1e-2)]
  rows = []
  for (variant, depth_), g in df.groupby(['variant', 'model.num_layers'], sort=False):
    b = ev.best_lr(g)
    acc = [r['final_eval_accuracy'] for r in b.per_seed.values()]
    rows.append([variant, str(depth_), ev.counts(g['label']),
                 ev.median(g[np.isclose(g['optim.lr'], 1e-2)]['growth']),
                 f'{b.lr:g}' + (f' ({b.edge} edge)' if b.edge else ''), stat(acc)])
  c = compare(f'depth {depths[-1]}, LR 0.01: log growth(none) - log growth(LayerNorm)',
              ev.by_seed(at[at['variant'] == 'none'], 'growth'),
              ev.by_seed(at[at['variant'] == 'layernorm'], 'growth'), math.log(1.25),
              log=True)
  return [Finding(
      '9', c.outcome, f'{c.name}: {ev.fmt_interval(c.interval, log=True)}',
      [table('Per norm and depth: runs trained/collapsed (accuracy within 2 standard '
             'errors of chance)/diverged; activation growth (RMS after the last block / '
             'after the first) at LR 1e-2, median (IQR) over trained runs; best LR and '
             'test accuracy there (mean ± sd).',
             ['norm', 'depth', 'trained/collapsed/diverged', 'activation growth',
              'best LR', 'test accuracy'], rows),
       comparisons_table('The rule\'s comparison (d > 0: LayerNorm keeps activations '
                         'more consistent).', [c])],
      plots.lr_curves(deepest, os.path.join(figdir, 'cnn_lr.png'),
                      f'Digits test loss vs peak LR, depth {depths[-1]}'), [SMALL_SCALE])]


# ------------------------------------------------------------ claims 10-13


def _best_losses(df: pd.DataFrame, by: list[str]) -> tuple[dict, list[list[str]]]:
  """Per group of `by` (variant first): its Best (lnexp.claims.evidence) and table rows."""
  best, rows = {}, []
  for key, g in df.groupby(by, sort=False):
    b = best[key] = ev.best_lr(g)
    rows.append([*map(str, key), ev.counts(g['label']),
                 f'{b.lr:g}' + (f' ({b.edge} edge)' if b.edge else ''),
                 stat([r['loss_or_ln_v'] for r in b.per_seed.values()])])
  return best, rows


def _difference(x: dict, y: dict) -> dict:
  """x - y per seed over the seeds of either; None where one is missing."""
  return {s: (x[s] - y[s] if s in x and s in y and x[s] is not None and y[s] is not None
              else None) for s in set(x) | set(y)}


def _losses(best: ev.Best) -> dict:
  return {s: r['loss_or_ln_v'] for s, r in best.per_seed.items()}


def mechanism(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 13 and Xu et al. 2019: gain and bias, and gradients through the statistics."""
  df = load(workdir, point_ids)
  best, rows = _best_losses(df, ['variant'])
  ln, simple, detach = (best.get((f'{n}-post',)) for n in
                        ('layernorm', 'layernorm_simple', 'detachnorm'))
  comps = []
  if ln and simple:
    comps.append(compare('loss(LayerNorm-simple) - loss(LayerNorm)', _losses(simple),
                         _losses(ln), 0.02, edge=_edge(simple, ln)))
  xu = []
  if simple and detach:
    xu.append(compare('loss(DetachNorm) - loss(LayerNorm-simple)', _losses(detach),
                      _losses(simple), 0.02, edge=_edge(detach, simple)))
  tables = [table('Per variant (post placement, topics): runs trained/collapsed/diverged '
                  'over the grid; best LR (seed-mean); final eval loss there (mean ± sd).',
                  ['variant', 'trained/collapsed/diverged', 'best LR', 'final eval loss'],
                  rows),
            comparisons_table("The rule's comparisons (d > 0: as the article, and Xu et "
                              'al., predict).', comps + xu)]
  out = [Finding('13', combine([c.outcome for c in comps]), '; '.join(
      f'{c.name} {ev.fmt_interval(c.interval)} {c.outcome}' for c in comps), tables, [],
      [SMALL_SCALE])]
  if xu:
    out.append(Finding('13-lit', _reproduced(xu[0].outcome, 'supported'),
                       'Xu et al. 2019 (the backward pass through the mean and variance '
                       f'matters): {xu[0].name} {ev.fmt_interval(xu[0].interval)} nats',
                       [], []))
  return out


def embedding_scale(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claims 10 and 10b: the spread of the best loss over the embedding's scale."""
  df = load(workdir, point_ids)
  best, rows = _best_losses(df, ['variant', 'model.embed_scale'])
  spread = {}
  for (variant, _), b in best.items():
    for s, loss in _losses(b).items():
      spread.setdefault(variant, {}).setdefault(s, []).append(loss)
  spread = {v: {s: max(x) - min(x) for s, x in by.items()} for v, by in spread.items()}
  none = spread.get('none', {})
  c10 = compare('spread(none) - 0', none, {s: 0.0 for s in none}, 0.05)
  # Scale matters without a norm unless the spread is within delta of zero.
  verdict10 = {'supported': 'supported', 'no effect': 'contradicted'}.get(c10.outcome,
                                                                        'inconclusive')
  c10b = [compare('spread(none) - spread(layernorm-post)', none,
                  spread.get('layernorm-post', {}), 0.05)]
  tables = [table('Per variant and embedding scale (`model.embed_scale`): runs trained/'
                  'collapsed/diverged; the better LR (seed-mean); final eval loss there.',
                  ['variant', 'embed scale', 'trained/collapsed/diverged', 'best LR',
                   'final eval loss'], rows),
            table('Spread over the three scales of the best final eval loss, per variant '
                  '(mean ± sd over seeds).', ['variant', 'spread (nats)'],
                  [[v, stat(s.values())] for v, s in spread.items()]),
            comparisons_table("The rules' comparisons: claim 10 (first row; 'no effect' "
                              'there means the scale did not matter: contradicted), claim '
                              '10b (d > 0: LayerNorm absorbs the scale).', [c10] + c10b)]
  return [Finding('10', verdict10, f'{c10.name}: {ev.fmt_interval(c10.interval)} nats',
                  tables, [], [SMALL_SCALE]),
          Finding('10b', combine([c.outcome for c in c10b]), '; '.join(
              f'{c.name} {ev.fmt_interval(c.interval)} {c.outcome}' for c in c10b), [], [])]


def _sensitivity_interaction(df: pd.DataFrame, factor: str, levels: tuple[str, str],
                             claim: str, caption: str) -> list[Finding]:
  """LR sensitivity per (variant, factor level, seed), and the interaction
  [S(none, a) - S(post-LN, a)] - [S(none, b) - S(post-LN, b)] for levels (a, b)."""
  sens, rows, best = {}, [], {}
  for (variant, level, seed), g in df.groupby(['variant', factor, 'seed'], sort=False):
    sens[(variant, level, seed)] = sensitivity.from_rows(g).common
  for (variant, level), g in df.groupby(['variant', factor], sort=False):
    b = best[(variant, level)] = ev.best_lr(g)
    rows.append([variant, str(level), ev.counts(g['label']),
                 f'{b.lr:g}' + (f' ({b.edge} edge)' if b.edge else ''),
                 stat([v for (w, l, _), v in sens.items() if (w, l) == (variant, level)])])

  def gap(level):
    of = lambda v: {s: x for (w, l, s), x in sens.items() if (w, l) == (v, level)}  # noqa
    return _difference(of('none'), of('layernorm-post'))
  a, b = (gap(level) for level in levels)
  c = compare(f'[S(none) - S(post-LN)] at {levels[0]} - the same at {levels[1]}', a, b,
              0.05)
  beside = [compare(f'S(none) - S(post-LN) at {level}', gap(level),
                    {s: 0.0 for s in gap(level)}, 0.05) for level in levels]
  return [Finding(claim, c.outcome, f'interaction {ev.fmt_interval(c.interval)} nats; '
                  + '; '.join(f'{x.name} {ev.fmt_interval(x.interval)}' for x in beside),
                  [table(caption, ['variant', factor, 'trained/collapsed/diverged',
                                   'best LR', 'LR sensitivity (ln V ref.)'], rows),
                   comparisons_table("The rule's comparison (first row) and the "
                                     'differences beside it.', [c] + beside)],
                  [], [SMALL_SCALE])]


def sharing(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 11: LayerNorm's effect on LR sensitivity, shared vs unshared layers."""
  df = load(workdir, point_ids)
  df['share'] = np.where(df['model.share'].eq('all'), 'shared', 'unshared')
  return _sensitivity_interaction(
      df, 'share', ('shared', 'unshared'), '11',
      'Per variant and sharing (4 layers, topics): runs trained/collapsed/diverged; best '
      'LR (seed-mean); LR sensitivity with the ln V reference (mean ± sd over seeds).')


def variable_length(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 12: LayerNorm's effect on LR sensitivity, padded vs packed rows."""
  df = load(workdir, point_ids)
  df['rows'] = np.where(df['data.pack'].astype(bool), 'packed', 'padded')
  return _sensitivity_interaction(
      df, 'rows', ('padded', 'packed'), '12',
      'Per variant and row layout (synthetic documents): runs trained/collapsed/diverged; '
      'best LR (seed-mean); LR sensitivity with the ln V reference (mean ± sd over seeds).')


ANALYSES = {'gradient_scaling': gradient_scaling, 'depth_tune': lambda *a, **k: [],
            'depth': depth, 'covariate_shift': covariate_shift, 'mechanism': mechanism,
            'embedding_scale': embedding_scale, 'sharing': sharing,
            'variable_length': variable_length,
            'generalization': generalization, 'batchnorm_text': batchnorm_text,
            'hyperparams': hyperparams, 'lr_sensitivity': lr_sensitivity,
            'lstm_covariate_shift': lstm_covariate_shift, 'cnn_depth': cnn_depth}
