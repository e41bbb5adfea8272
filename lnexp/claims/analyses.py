"""Applies each experiment's verdict rule (stated in its docstring) to its results.

One function per experiment: workdir + figure dir in, `Finding`s out. Every
number comes from results.jsonl and the per-point metrics files; a rule is
decided per seed and the verdict says in how many seeds it held.
"""
from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import pandas as pd

from lnexp.analysis import report as lr_report
from lnexp.analysis import results
from lnexp.claims import plots

LN = ('layernorm-post', 'layernorm-pre')


@dataclasses.dataclass
class Finding:
  claim: str          # '1'..'7', or '1b' for the literature check
  verdict: str        # supported | not supported | mixed | reproduced | ...
  effect: str         # the effect size, one sentence
  tables: list[str]   # markdown, each with a caption line first
  figures: list[str]  # paths relative to the report
  notes: list[str] = dataclasses.field(default_factory=list)


# ----------------------------------------------------------------- helpers


def variant_name(row) -> str:
  """'none', 'layernorm-post', 'layernorm-pre+qk_norm', 'batchnorm-post/batch_time'."""
  if row.get('model.arch') in ('lstm', 'cnn'):  # no placement variants compared
    return row['model.norm']
  if row['model.norm'] == 'none':
    return 'none'
  name = f"{row['model.norm']}-{row['model.placement']}"
  if row.get('model.qk_norm') is True:
    name += '+qk_norm'
  if (row.get('optim.z_loss') or 0) > 0:
    name += '+z_loss'
  if row['model.norm'] == 'batchnorm' and row.get('model.bn_axes') == 'batch_time':
    name += '/batch_time'
  return name


def load(workdir: str, point_ids=None) -> pd.DataFrame:
  """Results rows (of `point_ids` only, if given: the sweep being reported) with
  `variant` (variant_name) and `seed` labels."""
  df = results.load_results(workdir)
  if point_ids is not None:
    df = df[df['point_id'].isin(set(point_ids))].reset_index(drop=True)
  for key in ('model.arch', 'model.norm', 'model.placement', 'model.qk_norm',
              'optim.z_loss', 'model.bn_axes'):
    if key not in df:
      df[key] = results.load_config(workdir)['base'].get(key)
  df['variant'] = df.apply(variant_name, axis=1).astype(object)
  seeds = results.seed_keys(df)
  df['seed'] = df[seeds].astype(str).agg('/'.join, axis=1) if seeds else '0'
  df['counted_loss'] = lr_report.counted_loss(df)
  return df


def stat(values, digits: int = 3) -> str:
  """'mean ± sd [95% interval]' over seeds (lnexp.report.interval)."""
  values = [v for v in values if v is not None and not pd.isna(v)]
  if not values:
    return '-'
  mean = float(np.mean(values))
  if len(values) < 2:
    return f'{mean:.{digits}f}'
  lo, hi, _ = lr_report.interval(values)
  return (f'{mean:.{digits}f} ± {np.std(values, ddof=1):.{digits}f} '
          f'[{lo:.{digits}f}, {hi:.{digits}f}]')


def decide(held: list[bool], yes: str = 'supported', no: str = 'not supported',
           against: list[bool] | None = None) -> str:
  """`yes` if the rule held in every seed; `no` if `against` (default: not
  held) holds in every seed; mixed otherwise."""
  if not held:
    return 'no data'
  against = [not h for h in held] if against is None else against
  if all(held):
    return yes
  if all(against):
    return no
  return 'mixed'


def table(caption: str, head: list[str], rows: list[list[str]]) -> str:
  return caption + '\n\n' + lr_report.markdown_table(head, rows)


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


def seeds_held(frame: pd.DataFrame, value: str, better: list[str],
               than: str = 'none') -> tuple[list[bool], list[bool]]:
  """Per seed: every `better` variant's value < `than`'s; and every one >."""
  held, against = [], []
  for _, s in frame.groupby('seed'):
    by = s.set_index('variant')[value]
    if than not in by or not all(b in by for b in better):
      continue
    held.append(all(by[b] < by[than] for b in better))
    against.append(all(by[b] > by[than] for b in better))
  return held, against


# ------------------------------------------------------------ experiments


def lr_sensitivity(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claims 2 (LR sensitivity) and 5 (internal covariate shift)."""
  df = load(workdir, point_ids)
  metrics = metrics_of(workdir, df)
  df['ics_drift'] = [_mean_drift(metrics[p]) for p in df['point_id']]
  tables2, tables5, figures, held2, against2, held5, against5 = [], [], [], [], [], [], []
  effects2, effects5, notes = [], [], []
  for source, d in df.groupby('data.source', sort=False):
    d = d.copy()
    per_seed = lr_report.seed_metrics(d)
    summary = lr_report.summarize(per_seed)
    rows = [[r['variant'], str(r['seeds']), lr_report._stat(r, 'best_eval_loss'),
             lr_report._lrs(r['best_lrs']), lr_report._lrs(r['max_stable_lrs']),
             f"{r['diverged']}/{r['points']}", lr_report._stat(r, 'lr_sensitivity')]
            for _, r in summary.iterrows()]
    tables2.append(table(
        f'**{source}**: per variant over seeds (mean ± sd [95% t-interval]).',
        ['variant', 'seeds', 'best final eval loss', 'best LR', 'max stable LR',
         'diverged', 'LR sensitivity (nats)'], rows))
    h, a = seeds_held(per_seed, 'lr_sensitivity', list(LN))
    held2 += h
    against2 += a
    sens = summary.set_index('variant')['lr_sensitivity_mean']
    effects2.append(f"{source}: LR sensitivity none {sens.get('none', math.nan):.3f}, "
                    f"post-LN {sens.get('layernorm-post', math.nan):.3f}, pre-LN "
                    f"{sens.get('layernorm-pre', math.nan):.3f} nats")
    figures += plots.lr_curves(d, os.path.join(figdir, f'lr_{source}.png'),
                               f'Final eval loss vs peak LR ({source})')
    figures += plots.best_lr_curves(d, metrics, os.path.join(figdir, f'curves_{source}.png'),
                                    f'Eval loss vs step at each variant\'s best LR ({source})')
    notes.append(_flattening(d, metrics, source))
    notes += [f'{source}: {n}' for n in edge_note(_best_lr_rows(d), set(d['optim.lr']))]
    # Claim 5: drift at LR 1e-2, every variant; rank correlation over all points.
    at = d[np.isclose(d['optim.lr'], 1e-2)]
    drift_rows = [[v, stat(g['ics_drift'], 4), stat(g['final_eval_loss'])]
                  for v, g in at.groupby('variant', sort=False)]
    ok = d[d['status'].eq('ok')]
    rho, p, n = spearman(ok['ics_drift'], ok['final_eval_loss'])
    tables5.append(table(
        f'**{source}** at LR 1e-2: mean ICS drift (RMS change of norm-site input '
        f'feature means between diagnostics 10 steps apart) and final eval loss. '
        f'Spearman rho(drift, final eval loss) over all {n} non-diverged points: '
        f'{rho:.2f} (permutation p = {p:.4f}).',
        ['variant', 'ICS drift', 'final eval loss'], drift_rows))
    h, a = seeds_held(at, 'ics_drift', list(LN))
    held5 += h
    against5 += a
    drift = at.groupby('variant')['ics_drift'].mean()
    effects5.append(f"{source}: drift none {drift.get('none', math.nan):.4f}, post-LN "
                    f"{drift.get('layernorm-post', math.nan):.4f}, pre-LN "
                    f"{drift.get('layernorm-pre', math.nan):.4f}; rho {rho:.2f}")
  literature = _wortsman(df, metrics) + _dyt(df)
  return [
      Finding('2', decide(held2, against=against2),
              f'LayerNorm (post and pre) less LR-sensitive than no norm in '
              f'{sum(held2)}/{len(held2)} (dataset, seed) grids; ' + '; '.join(effects2),
              tables2, figures, [n for n in notes if n]),
      Finding('5', decide(held5, against=against5),
              f'LayerNorm drift below no norm in {sum(held5)}/{len(held5)} (dataset, '
              f'seed) pairs; ' + '; '.join(effects5), tables5, []),
  ] + literature


def _wortsman(df: pd.DataFrame, metrics: dict) -> list[Finding]:
  """qk_norm vs plain pre-LN: LR sensitivity per seed, final max attention logit."""
  qk = df[df['variant'].eq('layernorm-pre+qk_norm')]
  arms = df[df['variant'].isin(['layernorm-pre', 'layernorm-pre+qk_norm'])
            & df['data.source'].isin(set(qk['data.source']))]  # where the arm ran
  if arms['variant'].nunique() < 2:
    return []
  per_seed = lr_report.seed_metrics(arms)
  held, against = seeds_held(per_seed, 'lr_sensitivity', ['layernorm-pre+qk_norm'],
                             than='layernorm-pre')
  finished = arms.groupby('optim.lr')['status'].agg(lambda s: s.eq('ok').all())
  top = finished[finished].index.max()
  logits = {}
  for variant, d in arms[np.isclose(arms['optim.lr'], top)].groupby('variant'):
    logits[variant] = np.mean([np.nanmax(results.depth_value(metrics[p], 'depth/attn/logit_max'))
                               for p in d['point_id']])
  sens = per_seed.groupby('variant')['lr_sensitivity'].mean()
  return [Finding(
      '2-lit', decide(held, yes='reproduced', no='not reproduced', against=against),
      f"Wortsman et al. 2023: LR sensitivity pre-LN {sens['layernorm-pre']:.3f} vs "
      f"pre-LN+qk_norm {sens['layernorm-pre+qk_norm']:.3f} nats (lower in {sum(held)}/"
      f"{len(held)} seeds); final max attention logit at LR {top:g}: pre-LN "
      f"{logits.get('layernorm-pre', math.nan):.1f}, +qk_norm "
      f"{logits.get('layernorm-pre+qk_norm', math.nan):.1f}", [], [])]


def _dyt(df: pd.DataFrame) -> list[Finding]:
  """Zhu et al. 2025: DyT's best final eval loss within 0.05 nats of LayerNorm's."""
  held, gaps = [], []
  for (_, placement, _), g in df[df['model.norm'].isin(['dyt', 'layernorm'])].groupby(
      ['data.source', 'model.placement', 'seed']):
    g = g[g['status'].eq('ok') & ~g['variant'].str.contains('+', regex=False)]
    best = g.groupby('model.norm')['final_eval_loss'].min()
    if {'dyt', 'layernorm'} <= set(best.index):
      gaps.append((placement, best['dyt'] - best['layernorm']))
      held.append(abs(best['dyt'] - best['layernorm']) <= 0.05)
  if not held:
    return []
  by = pd.DataFrame(gaps, columns=['placement', 'gap']).groupby('placement')['gap'].mean()
  return [Finding(
      '2-dyt', decide(held, yes='reproduced', no='not reproduced'),
      'Zhu et al. 2025: best final eval loss DyT minus LayerNorm, ' + ', '.join(
          f'{p} {v:+.3f}' for p, v in by.items()) + f' nats; within 0.05 in '
      f'{sum(held)}/{len(held)} (dataset, placement, seed) cases', [], [])]


def _mean_drift(m: pd.DataFrame) -> float:
  """Mean over steps, depth and norm sites of the feature-mean drift."""
  cols = [c for c in m if c.startswith('ics_drift/') and c.endswith('_mean')]
  values = [np.nanmean(np.asarray(v, dtype=float)) for c in cols
            for v in m[c].dropna() if v is not None]
  return float(np.nanmean(values)) if values else math.nan


def _flattening(d: pd.DataFrame, metrics, source: str) -> str:
  """How much the best LR's eval loss still fell over the last third."""
  drops = []
  for variant in LN + ('none',):
    v = d[d['variant'].eq(variant) & d['status'].eq('ok')]
    if not len(v):
      continue
    best = v.loc[v['final_eval_loss'].idxmin()]
    m = metrics[best['point_id']]
    evals = m[m['eval_loss'].notna()] if 'eval_loss' in m else m.iloc[:0]
    cut = evals[evals['step'] <= 2 * evals['step'].max() / 3]
    if len(cut):
      drops.append(f"{variant} {cut['eval_loss'].iloc[-1] - evals['eval_loss'].iloc[-1]:.3f}")
  return (f'{source}: eval loss drop over the last third of training at the best LR '
          f'(seed {d["seed"].iloc[0]}): ' + ', '.join(drops) + ' nats') if drops else ''


def depth(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claims 1 (gradient spread over depth) and 4 (residual growth)."""
  df = load(workdir, point_ids)
  metrics = metrics_of(workdir, df)
  ms = [metrics[p] for p in df['point_id']]
  df['spread_init'] = [_spread(results.depth_value(m, 'depth/grad_flow', 'first')) for m in ms]
  df['spread_end'] = [_spread(results.depth_value(m, 'depth/grad_flow')) for m in ms]
  df['growth'] = [_growth(results.depth_value(m, 'depth/residual_rms')) for m in ms]
  depths = sorted(df['model.num_layers'].unique())
  deepest = depths[-1]
  tables = []
  for key, caption in (('spread_init', 'Gradient spread at initialization (step 1): '
                        'log10(max / min) over depth of the gradient norm after each '
                        'block, in decades (0: every block sees the same gradient norm)'),
                       ('spread_end', 'Gradient spread (decades) at the last diagnostic '
                        'step'),
                       ('growth', 'Residual growth at the last diagnostic step: '
                        'residual-stream RMS after the last block / after the first')):
    rows = [[v] + [stat(g[g['model.num_layers'] == L][key], 2) for L in depths]
            for v, g in df.groupby('variant', sort=False)]
    tables.append(table(f'{caption}; mean ± sd [95% t-interval] over seeds.',
                        ['variant'] + [f'depth {L}' for L in depths], rows))
  deep = df[df['model.num_layers'] == deepest]
  h_init, a_init = seeds_held(deep, 'spread_init', ['layernorm-post'])
  h_end, a_end = seeds_held(deep, 'spread_end', ['layernorm-post'])
  held1 = [a and b for a, b in zip(h_init, h_end)]
  against1 = [a and b for a, b in zip(a_init, a_end)]
  h_g, a_g = seeds_held(deep, 'growth', ['layernorm-post'])
  growth = deep.set_index(['variant', 'seed'])['growth']
  held4 = [h and growth[('layernorm-post', s)] < 2
           for h, s in zip(h_g, sorted(deep['seed'].unique()))]
  means = deep.groupby('variant')[['spread_init', 'spread_end', 'growth']].mean()
  figures = plots.depth_profiles(df[df['model.num_layers'] == deepest], metrics,
                                 os.path.join(figdir, 'depth_profiles.png'))
  pick = lambda v, k: means[k].get(v, math.nan)  # noqa: E731
  return [
      Finding('1', decide(held1, against=against1),
              f'depth {deepest}: gradient spread (decades) post-LN '
              f'{pick("layernorm-post", "spread_init"):.2f}'
              f' (init) / {pick("layernorm-post", "spread_end"):.2f} (end) vs none '
              f'{pick("none", "spread_init"):.2f} / {pick("none", "spread_end"):.2f}; '
              f'pre-LN {pick("layernorm-pre", "spread_init"):.2f} / '
              f'{pick("layernorm-pre", "spread_end"):.2f}; rule held in {sum(held1)}/'
              f'{len(held1)} seeds', tables[:2], figures),
      Finding('4', decide(held4, against=a_g),
              f'depth {deepest}: residual growth post-LN {pick("layernorm-post", "growth"):.2f}'
              f', pre-LN {pick("layernorm-pre", "growth"):.2f}, none {pick("none", "growth"):.2f}'
              f'; rule held in {sum(held4)}/{len(held4)} seeds', tables[2:], figures),
  ]


def _growth(rms) -> float:
  """RMS after the last block / after the first (NaN if either is not finite)."""
  if rms is None or not np.isfinite(rms[[0, -1]]).all() or rms[0] <= 0:
    return math.nan
  return float(rms[-1] / rms[0])


def _spread(values) -> float:
  """log10(max / min) over depth: decades between the largest and smallest."""
  if values is None or not np.all(np.isfinite(values)) or values.min() <= 0:
    return math.nan
  return float(np.log10(values.max() / values.min()))


def gradient_scaling(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 1b: Xiong et al. 2020's last-layer gradient norm vs depth."""
  df = load(workdir, point_ids)
  metrics = metrics_of(workdir, df)
  df['last_layer_grad'] = [_last_layer_grad(metrics[p]) for p in df['point_id']]
  depths = sorted(df['model.num_layers'].unique())
  slopes = {}
  for (variant, seed), g in df.groupby(['variant', 'seed']):
    g = g.sort_values('model.num_layers')
    slopes[(variant, seed)] = float(np.polyfit(np.log(g['model.num_layers']),
                                               np.log(g['last_layer_grad']), 1)[0])
  rows = []
  for variant, g in df.groupby('variant', sort=False):
    rows.append([variant] + [stat(g[g['model.num_layers'] == L]['last_layer_grad'], 3)
                             for L in depths]
                + [stat([s for (v, _), s in slopes.items() if v == variant], 2)])
  seeds = sorted(df['seed'].unique())
  post = [abs(slopes.get(('layernorm-post', s), math.nan)) <= 0.15 for s in seeds]
  pre = [slopes.get(('layernorm-pre', s), math.nan) < -0.25 for s in seeds]
  held = [a and b for a, b in zip(post, pre)]
  verdict = decide(held, yes='reproduced', no='not reproduced',
                   against=[not a and not b for a, b in zip(post, pre)])
  verdict = 'partly reproduced' if verdict == 'mixed' else verdict
  def mean(variant):  # nan, without numpy's empty-mean warning, for an unrun variant
    values = [s for (w, _), s in slopes.items() if w == variant]
    return float(np.mean(values)) if values else math.nan
  return [Finding(
      '1b', verdict,
      f'slope of log(last-layer gradient norm) on log(depth): post-LN '
      f'{mean("layernorm-post"):.2f}, pre-LN {mean("layernorm-pre"):.2f} (Xiong et al. '
      f'predict 0 and -0.5)',
      [table('Gradient norm of the last layer\'s weights at initialization '
             '(unshared, clipping off), and its log-log slope in depth; mean ± sd '
             '[95% t-interval] over seeds.',
             ['variant'] + [f'depth {L}' for L in depths] + ['slope'], rows)],
      plots.scaling(df, os.path.join(figdir, 'gradient_scaling.png')))]


def _last_layer_grad(m: pd.DataFrame) -> float:
  cols = [c for c in m if c.startswith('layer_grad_norm/')]
  first = m[m[cols[0]].notna()].iloc[0] if cols else None
  if first is None:
    return math.nan
  return float(np.sqrt(sum(float(first[c][-1]) ** 2 for c in cols)))


def hyperparams(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 3: spread of final eval loss over warm-up, init scale, batch size."""
  df = load(workdir, point_ids)
  config = results.load_config(workdir)
  factors = ('optim.warmup_steps', 'model.init_scale', 'train.batch_size')
  # The centre is the one value of each factor that every other factor's points share.
  centre = {k: pd.Series([p[k] for p in config['sweep']]).mode()[0] for k in factors}
  rows, verdicts, effects = [], {}, []
  for factor in factors:
    others = [k for k in factors if k != factor]
    on_axis = df[np.logical_and.reduce([np.isclose(df[k], centre[k]) for k in others])]
    spread = on_axis.groupby(['variant', 'seed'])['counted_loss'].agg(
        lambda s: s.max() - s.min()).reset_index(name='spread')
    h, a = seeds_held(spread, 'spread', list(LN))
    verdicts[factor] = decide(h, yes='less sensitive', no='more sensitive', against=a)
    for variant, g in spread.groupby('variant', sort=False):
      values = sorted(on_axis[factor].unique())
      rows.append([factor, ', '.join(f'{v:g}' for v in values), variant,
                   stat(g['spread']), verdicts[factor] if variant == 'none' else ''])
    means = spread.groupby('variant')['spread'].mean()
    effects.append(f"{factor.split('.')[1]}: none {means.get('none', math.nan):.3f}, "
                   f"post-LN {means.get('layernorm-post', math.nan):.3f}, pre-LN "
                   f"{means.get('layernorm-pre', math.nan):.3f}")
  outcomes = list(verdicts.values())
  verdict = ('no data' if 'no data' in outcomes else
             'supported' if all(o == 'less sensitive' for o in outcomes) else
             'not supported' if not any(o == 'less sensitive' for o in outcomes)
             else 'mixed')
  return [Finding(
      '3', verdict, 'spread of final eval loss (nats) over each factor\'s values: '
      + '; '.join(effects),
      [table('Spread (max - min) of final eval loss over one factor\'s values, the '
             'others at the centre; a diverged point counts as its init loss; mean ± '
             'sd [95% t-interval] over seeds. Outcome per factor on the `none` row.',
             ['factor', 'values', 'variant', 'spread (nats)', 'LayerNorm vs none'],
             rows)],
      plots.factor_curves(df, factors, centre, os.path.join(figdir, 'hyperparams.png')))]


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
  h, a = seeds_held(df, 'matched_gap', list(LN))
  rows = [[v, stat(g['matched_gap']), stat(g['matched_step'], 0), stat(g['final_gap']),
           stat(g['final_train']), stat(g['final_eval_loss'])]
          for v, g in df.groupby('variant', sort=False)]
  means = df.groupby('variant')['matched_gap'].mean()
  return [Finding(
      '6', decide(h, against=a),
      f"gap at matched train loss: none {means.get('none', math.nan):.3f}, post-LN "
      f"{means.get('layernorm-post', math.nan):.3f}, pre-LN "
      f"{means.get('layernorm-pre', math.nan):.3f} nats; rule held in {sum(h)}/{len(h)} seeds",
      [table('Eval minus train loss (train smoothed over 5 logs) at the first log where '
             'train loss reaches the highest final train loss of the seed\'s variants, '
             'and at the end; mean ± sd [95% t-interval] over seeds.',
             ['variant', 'gap at matched train loss', 'matched at step', 'final gap',
              'final train loss', 'final eval loss'], rows)],
      plots.gap_curves(df, curves, os.path.join(figdir, 'generalization.png')))]


def _matched(df: pd.DataFrame, curves: dict) -> dict:
  """Per point: the first log row of its smoothed curve at or below its seed's
  target, the highest final smoothed train loss among the seed's points (None
  if never reached)."""
  hits = {}
  for _, s in df.groupby('seed'):
    target = max(curves[p]['train'].iloc[-1] for p in s['point_id'])
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


def batchnorm_text(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 7: LayerNorm vs causal BatchNorm over batch sizes; BN mismatch and leak."""
  df = load(workdir, point_ids)
  metrics = metrics_of(workdir, df)
  df['mismatch'] = df['final_eval_loss'] - df['final_eval_loss_batch_stats']
  df['bn_dist'] = [_bn_distance(metrics[p]) for p in df['point_id']]
  ok = df[df['status'].eq('ok')]
  best = ok.loc[ok.groupby(['variant', 'train.batch_size', 'seed'])['final_eval_loss']
                .idxmin()]
  held, against, rows = [], [], []
  for (batch, seed), g in best.groupby(['train.batch_size', 'seed']):
    by = g.set_index('variant')['final_eval_loss']
    if {'layernorm-post', 'batchnorm-post'} <= set(by.index):
      held.append(by['layernorm-post'] < by['batchnorm-post'])
      against.append(by['layernorm-post'] > by['batchnorm-post'])
  for (variant, batch), g in best.groupby(['variant', 'train.batch_size'], sort=False):
    rows.append([variant, str(batch), stat(g['final_eval_loss']),
                 lr_report._lrs(sorted(set(g['optim.lr']))), stat(g['mismatch']),
                 stat(g['final_eval_loss_batch_stats']), stat(g['bn_dist'])])
  shen, shen_against = [], []
  for _, g in best[best['variant'].eq('batchnorm-post')].groupby('seed'):
    by = g.set_index('train.batch_size')['bn_dist']
    small, large = by.index.min(), by.index.max()
    if small == large:
      continue
    shen.append(by[small] > by[large])
    shen_against.append(by[small] < by[large])
  shen_means = best[best['variant'].eq('batchnorm-post')].groupby(
      'train.batch_size')['bn_dist'].mean()
  leak = best[best['variant'].eq('batchnorm-post/batch_time')]
  leaked = (leak['final_eval_loss_batch_stats'] < leak['entropy_floor']).sum()
  means = best.groupby(['variant', 'train.batch_size'])['final_eval_loss'].mean()
  effect = ', '.join(
      f"B={b}: LN {means.get(('layernorm-post', b), math.nan):.3f} vs BN "
      f"{means.get(('batchnorm-post', b), math.nan):.3f}"
      for b in sorted(best['train.batch_size'].unique()))
  return [Finding(
      '7', decide(held, against=against),
      f'best final eval loss (nats), {effect}; LayerNorm better in {sum(held)}/'
      f'{len(held)} (batch, seed) pairs. Leak: batch_time BatchNorm\'s batch-statistics '
      f'eval loss is below the entropy floor in {leaked}/{len(leak)} cases',
      [table('Per variant and batch size, at the best of the LRs per seed: final eval '
             'loss (running statistics for BatchNorm), the mismatch (that minus the eval '
             'loss with each eval batch\'s own statistics), the batch-statistics eval '
             'loss, and the batch-vs-running statistic distance (Shen et al. 2020; mean '
             'over depth, sites and mean/var) at the end. Entropy floor '
             f"{best['entropy_floor'].mean():.3f} nats.",
             ['variant', 'batch', 'best final eval loss', 'best LRs', 'mismatch',
              'batch-stats eval loss', 'BN stat distance'], rows)],
      plots.batch_curves(best, os.path.join(figdir, 'batchnorm_text.png'))),
      Finding('7-lit', decide(shen, yes='reproduced', no='not reproduced',
                              against=shen_against),
              'Shen et al. 2020: causal BatchNorm batch-vs-running statistic distance '
              + ', '.join(f'B={b} {v:.3f}' for b, v in shen_means.items())
              + f'; larger at the smallest batch in {sum(shen)}/{len(shen)} seeds', [], [])]


def _bn_distance(m: pd.DataFrame) -> float:
  cols = [c for c in m if c.endswith(('bn_mean_dist', 'bn_var_dist'))]
  values = [np.nanmean(results.depth_value(m, c)) for c in cols if results.depth_value(m, c) is not None]
  return float(np.mean(values)) if values else math.nan


def edge_note(best: pd.DataFrame, grid) -> list[str]:
  """A warning when a best LR sits at the edge of the grid (the optimum may lie beyond)."""
  edges = {min(grid), max(grid)}
  at_edge = sorted({v for v, lr in zip(best['variant'], best['optim.lr']) if lr in edges})
  return [f'best LR at the edge of the grid ({min(grid):g}..{max(grid):g}) for: '
          f'{", ".join(at_edge)}; the optimum may lie outside it'] if at_edge else []


def _best_lr_rows(df: pd.DataFrame, keys=('variant', 'seed')) -> pd.DataFrame:
  """Per (variant, seed, ...): the non-diverged point with the lowest final eval loss."""
  ok = df[df['status'].eq('ok') & df['final_eval_loss'].notna()]
  return ok.loc[ok.groupby(list(keys))['final_eval_loss'].idxmin()]


def lstm_covariate_shift(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 8: hidden-state variance over time, speed to a target loss, drift."""
  df = load(workdir, point_ids)
  metrics = metrics_of(workdir, df)
  for pid, m in metrics.items():
    var_T = results.depth_value(m, 'time/hidden_var')
    df.loc[df['point_id'] == pid, 'hidden_var_cv'] = (
        float(np.std(var_T) / np.mean(var_T)) if var_T is not None else math.nan)
    drift = [np.nanmean(np.asarray(v, float)) for v in
             m.get('ics_drift/input_gates_mean', pd.Series(dtype=object)).dropna()]
    df.loc[df['point_id'] == pid, 'input_drift'] = np.mean(drift) if drift else math.nan
  best = _best_lr_rows(df).copy()
  curves = {p: _smoothed(metrics[p]) for p in best['point_id']}
  hits = _matched(best, curves)
  best['steps_to_target'] = [hits[p]['step'] if hits[p] is not None else math.nan
                             for p in best['point_id']]
  per_seed = lr_report.seed_metrics(df)
  sens = per_seed.groupby('variant')['lr_sensitivity']
  h_cv, a_cv = seeds_held(best, 'hidden_var_cv', ['layernorm'])
  h_steps, a_steps = seeds_held(best, 'steps_to_target', ['layernorm'])
  held = [a and b for a, b in zip(h_cv, h_steps)]
  against = [not a and not b for a, b in zip(h_cv, h_steps)]
  rows = [[v, stat(g['hidden_var_cv']), stat(g['steps_to_target'], 0),
           stat(g['input_drift'], 4), stat(g['final_eval_loss']),
           lr_report._lrs(sorted(set(g['optim.lr']))), stat(sens.get_group(v))]
          for v, g in best.groupby('variant', sort=False)]
  means = best.groupby('variant')[['hidden_var_cv', 'steps_to_target']].mean()
  pick = lambda v, k: means[k].get(v, math.nan)  # noqa: E731
  return [Finding(
      '8', decide(held, against=against),
      f"hidden-variance CV over time: none {pick('none', 'hidden_var_cv'):.3f}, "
      f"LayerNorm {pick('layernorm', 'hidden_var_cv'):.3f}, BatchNorm "
      f"{pick('batchnorm', 'hidden_var_cv'):.3f}; steps to the target loss: none "
      f"{pick('none', 'steps_to_target'):.0f}, LayerNorm "
      f"{pick('layernorm', 'steps_to_target'):.0f}, BatchNorm "
      f"{pick('batchnorm', 'steps_to_target'):.0f}; rule held in {sum(held)}/"
      f"{len(held)} seeds",
      [table('At each variant\'s best LR per seed: coefficient of variation over time '
             'steps of the hidden-state variance (last diagnostic step), steps to the '
             'seed\'s target train loss, input pre-activation drift, final eval loss; '
             'LR sensitivity over the whole LR grid; mean ± sd [95% t-interval] over '
             'seeds.',
             ['variant', 'hidden-variance CV', 'steps to target', 'input drift',
              'final eval loss', 'best LRs', 'LR sensitivity'], rows)],
      plots.time_profiles(best, metrics, os.path.join(figdir, 'hidden_variance.png')),
      edge_note(best, set(df['optim.lr'])))]


def cnn_depth(workdir: str, figdir: str, point_ids=None) -> list[Finding]:
  """Claim 9: activation growth with depth, accuracy and LR sensitivity per norm."""
  df = load(workdir, point_ids)
  metrics = metrics_of(workdir, df)
  df['growth'] = [_growth(results.depth_value(metrics[p], 'depth/residual_rms'))
                  for p in df['point_id']]
  depths = sorted(df['model.num_layers'].unique())
  deepest = df[df['model.num_layers'] == depths[-1]]
  at = deepest[np.isclose(deepest['optim.lr'], 1e-2)]
  held, against = seeds_held(at, 'growth', ['layernorm'])
  best = _best_lr_rows(df, ('variant', 'model.num_layers', 'seed'))
  rows = []
  for (variant, depth), g in df.groupby(['variant', 'model.num_layers'], sort=False):
    b = best[(best['variant'] == variant) & (best['model.num_layers'] == depth)]
    grid = lr_report.seed_metrics(g)
    rows.append([variant, str(depth),
                 stat(g[np.isclose(g['optim.lr'], 1e-2)]['growth'], 2),
                 stat(b['final_eval_accuracy']), stat(b['final_eval_loss']),
                 lr_report._lrs(sorted(set(b['optim.lr']))), stat(grid['lr_sensitivity'])])
  acc = best[best['model.num_layers'] == depths[-1]].set_index(['variant', 'seed'])[
      'final_eval_accuracy']
  seeds = sorted(best['seed'].unique())
  bn_wins = sum(acc.get(('batchnorm', s), math.nan) > acc.get(('layernorm', s), math.nan)
                for s in seeds)
  growth = at.groupby('variant')['growth'].mean()
  return [Finding(
      '9', decide(held, against=against),
      f"depth {depths[-1]}, LR 1e-2: activation growth none {growth.get('none', math.nan):.2f},"
      f" LayerNorm {growth.get('layernorm', math.nan):.2f}, BatchNorm "
      f"{growth.get('batchnorm', math.nan):.2f}, GroupNorm "
      f"{growth.get('groupnorm', math.nan):.2f} (rule held in {sum(held)}/{len(held)} "
      f"seeds); BatchNorm's test accuracy beats LayerNorm's in {bn_wins}/{len(seeds)} "
      f"seeds at depth {depths[-1]}",
      [table('Per norm and depth: activation growth (RMS after the last block / after the '
             'first) at LR 1e-2; test accuracy and loss at the best LR per seed; LR '
             'sensitivity; mean ± sd [95% t-interval] over seeds.',
             ['norm', 'depth', 'activation growth', 'test accuracy', 'test loss',
              'best LRs', 'LR sensitivity'], rows)],
      plots.lr_curves(deepest, os.path.join(figdir, 'cnn_lr.png'),
                      f'Digits test loss vs peak LR, depth {depths[-1]}'),
      edge_note(best, set(df['optim.lr'])))]


ANALYSES = {'gradient_scaling': gradient_scaling, 'depth': depth,
            'generalization': generalization, 'batchnorm_text': batchnorm_text,
            'hyperparams': hyperparams, 'lr_sensitivity': lr_sensitivity,
            'lstm_covariate_shift': lstm_covariate_shift, 'cnn_depth': cnn_depth}
