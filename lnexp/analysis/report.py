"""`python -m lnexp.report DIR [DIR ...] [--out OUT] [--tolerance NATS]`.

Turns finished sweeps into REPORT.md, PNG figures and results.parquet under
OUT (default DIR/report for one workdir), and prints the headline table: per
variant, best loss, stable LRs, divergences and LR sensitivity with an
interval across seeds (docs/claims-analysis.md). Writes nothing outside OUT.
"""
from __future__ import annotations

import datetime
import math
import os

import numpy as np
import pandas as pd

from lnexp.analysis import results
from lnexp.analysis.figures import (
  _lr,
  plot_attn_logit_max,
  plot_batchnorm,
  plot_depth_profiles,
  plot_lr_sensitivity,
  plot_training_curves,
  seed_mean_curve,
  styles_for,
)
from lnexp.analysis.results import LR_KEY
from lnexp.analysis.sensitivity import DEFAULT_TOLERANCE
from lnexp.errors import ConfigError
from lnexp.runtime import storage

USAGE = 'usage: python -m lnexp.report DIR [DIR ...] [--out OUT] [--tolerance NATS]'
# Two-sided 95% Student-t quantiles by degrees of freedom (n seeds - 1, n < 5).
T_975 = {1: 12.706, 2: 4.303, 3: 3.182}
BOOTSTRAP_SAMPLES = 10_000


# ---------------------------------------------------------------- numbers

def counted_loss(rows: pd.DataFrame) -> pd.Series:
  """What a point contributes to LR sensitivity: min(final eval loss, init loss),
  or its init loss if it diverged."""
  return rows['init_loss'].where(rows['status'].ne('ok'), np.minimum(
      rows['final_eval_loss'], rows['init_loss']))


def lr_metrics(grid: pd.DataFrame, tolerance: float = DEFAULT_TOLERANCE) -> dict:
  """Metrics of one LR sweep (one variant, one seed), as DEFINITIONS says; a point
  never evaluated is left out of the sensitivity."""
  diverged = grid['status'].ne('ok')
  final = grid['final_eval_loss'].where(~diverged)
  ok = final.notna()
  counted = counted_loss(grid)
  raw = grid['init_loss'].where(diverged, grid['final_eval_loss'])
  used = counted.notna() & raw.notna()
  best = final[ok].min()  # an empty selection's min, max and mean are NaN
  stable_lrs = grid.loc[ok & (final <= best + tolerance), LR_KEY]
  return {
      'points': len(grid), 'diverged': int(diverged.sum()),
      'lr_low': grid[LR_KEY].min(), 'lr_high': grid[LR_KEY].max(),
      'best_eval_loss': best,
      'best_lr': grid.loc[final[ok].idxmin(), LR_KEY] if ok.any() else math.nan,
      'min_stable_lr': stable_lrs.min(), 'max_stable_lr': stable_lrs.max(),
      'stable_decades': math.log10(stable_lrs.max() / stable_lrs.min()),
      'lr_sensitivity': counted[used].mean() - raw[used].min(),
      'sensitivity_points': int(used.sum()),
  }


def label_points(df: pd.DataFrame) -> pd.DataFrame:
  """df plus `variant`, `seed` (labels) and `counted_loss` (sensitivity input)."""
  df = df.copy()
  df['variant'] = results.variant_labels(df)
  seeds = results.seed_keys(df)
  df['seed'] = (df[seeds].astype(str).agg(' '.join, axis=1) if seeds
                else pd.Series('-', index=df.index)).astype(object)
  df['counted_loss'] = counted_loss(df)
  return df


def seed_metrics(df: pd.DataFrame, tolerance: float = DEFAULT_TOLERANCE) -> pd.DataFrame:
  """One row of `lr_metrics` per (variant, seed); df from `label_points`."""
  return pd.DataFrame([
      {'variant': variant, 'seed': seed, **lr_metrics(grid, tolerance)}
      for (variant, seed), grid in df.groupby(['variant', 'seed'], sort=False, dropna=False)])


def interval(values) -> tuple[float, float, str]:
  """95% interval of a mean over seeds: t for 2-4 seeds, bootstrap for >= 5."""
  values = np.asarray([v for v in values if not pd.isna(v)], dtype=float)
  n = len(values)
  if n < 2:
    return math.nan, math.nan, f'none ({n} seed{"s" * (n != 1)})'
  if n < 5:
    half = T_975[n - 1] * values.std(ddof=1) / math.sqrt(n)
    return values.mean() - half, values.mean() + half, f't-interval, {n} seeds'
  means = np.random.default_rng(0).choice(values, (BOOTSTRAP_SAMPLES, n)).mean(1)
  lo, hi = np.percentile(means, [2.5, 97.5])
  return float(lo), float(hi), f'bootstrap percentile, {n} seeds'


def summarize(per_seed: pd.DataFrame) -> pd.DataFrame:
  """Per variant: mean, std and 95% interval over seeds of each seed's metrics."""
  rows = []
  for variant, s in per_seed.groupby('variant', sort=False):
    row = {'variant': variant, 'seeds': len(s), 'points': int(s['points'].sum()),
           'diverged': int(s['diverged'].sum()),
           'lr_low': s['lr_low'].min(), 'lr_high': s['lr_high'].max(),
           'best_lrs': sorted(set(s['best_lr'].dropna())),
           'max_stable_lrs': sorted(set(s['max_stable_lr'].dropna()))}
    for key in ('best_eval_loss', 'stable_decades', 'lr_sensitivity'):
      values = s[key].dropna()
      lo, hi, method = interval(values)
      row.update({f'{key}_mean': values.mean(), f'{key}_std': values.std(ddof=1),
                  f'{key}_lo': lo, f'{key}_hi': hi})  # pandas: NaN without enough values
      if key == 'lr_sensitivity':
        row['interval'] = method
    rows.append(row)
  return pd.DataFrame(rows)


def figure_lrs(df: pd.DataFrame, tolerance: float) -> dict[str, tuple[float, float]]:
  """Per variant (best LR, highest stable LR) of the seed-mean LR curve."""
  picks = {}
  for variant, d in df.groupby('variant', sort=False):
    curve = seed_mean_curve(d)
    if len(curve):
      best = curve.min()
      picks[variant] = (curve.idxmin(), curve[curve <= best + tolerance].index.max())
  return picks


# ---------------------------------------------------------------- formatting

def _num(x, digits: int = 3) -> str:
  return '-' if x is None or pd.isna(x) else f'{x:.{digits}f}'


def _lrs(values) -> str:
  return ', '.join(map(_lr, values)) if len(values) else '-'


def _stat(row, key: str, digits: int = 3) -> str:
  if row['seeds'] < 2 or pd.isna(row[f'{key}_std']):
    return _num(row[f'{key}_mean'], digits)
  return (f"{_num(row[f'{key}_mean'], digits)} ± {_num(row[f'{key}_std'], digits)} "
          f"[{_num(row[f'{key}_lo'], digits)}, {_num(row[f'{key}_hi'], digits)}]")


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
  lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
  return '\n'.join(lines + ['| ' + ' | '.join(r) + ' |' for r in rows])


def headline_table(summary: pd.DataFrame, incomplete: dict[str, int]) -> str:
  """The per-variant table REPORT.md opens with and stdout shows."""
  head = ['variant', 'seeds', 'LR grid', 'best final eval loss (nats)', 'best LR',
          'max stable LR', 'stable range (decades)', 'diverged',
          'LR sensitivity (nats)', '95% interval']
  rows = []
  for _, r in summary.iterrows():
    name = r['variant'] + (f" ({incomplete[r['variant']]} missing)"
                           if incomplete.get(r['variant']) else '')
    rows.append([name, str(r['seeds']), f"{_lr(r['lr_low'])}..{_lr(r['lr_high'])}",
                 _stat(r, 'best_eval_loss'), _lrs(r['best_lrs']), _lrs(r['max_stable_lrs']),
                 _stat(r, 'stable_decades', 2), f"{r['diverged']}/{r['points']}",
                 _stat(r, 'lr_sensitivity'), r['interval']])
  for variant, count in incomplete.items():
    if variant not in set(summary['variant']):
      rows.append([f'{variant} ({count} missing)', '0'] + ['-'] * 7 + ['no finished point'])
  return markdown_table(head, rows)


def seed_table(per_seed: pd.DataFrame) -> str:
  head = ['variant', 'seed', 'points', 'diverged', 'best final eval loss (nats)',
          'best LR', 'max stable LR', 'stable range (decades)', 'LR sensitivity (nats)']
  return markdown_table(head, [
      [r['variant'], r['seed'], str(r['points']), str(r['diverged']),
       _num(r['best_eval_loss']), _lr(r['best_lr']), _lr(r['max_stable_lr']),
       _num(r['stable_decades'], 2), _num(r['lr_sensitivity'])]
      for _, r in per_seed.iterrows()])


def points_table(df: pd.DataFrame, several: bool) -> str:
  head = ['point_id', *(['workdir'] if several else []), 'variant', 'seed', 'LR', 'status',
          'diverged step', 'init loss', 'final eval loss', 'counted as (sensitivity)']
  return markdown_table(head, [
      [r['point_id'], *([os.path.basename(r['workdir'])] if several else []),
       r['variant'], r['seed'], _lr(r[LR_KEY]), r['status'],
       '-' if pd.isna(r['diverged_step']) else str(int(r['diverged_step'])),
       _num(r['init_loss'], 4), _num(r['final_eval_loss'], 4), _num(r['counted_loss'], 4)]
      for _, r in df.iterrows()])


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
  """Object columns holding several Python types become strings (Arrow needs one)."""
  df = df.copy()
  for col in df.columns:
    if df[col].dtype == object and len({type(v) for v in df[col].dropna()}) > 1:
      df[col] = df[col].map(lambda v: None if v is None or pd.isna(v) else str(v))
  return df


def write_report(workdirs: list[str], out: str | None = None,
                 tolerance: float = DEFAULT_TOLERANCE) -> str:
  """Reads workdirs, writes OUT/REPORT.md, figures and results.parquet; returns OUT."""
  if not workdirs:
    raise ConfigError(f'no workdir given; {USAGE}')
  if out is None:
    if len(workdirs) > 1:
      raise ConfigError('--out is required with several workdirs')
    if '://' in workdirs[0]:  # figures and REPORT.md are local files
      raise ConfigError(f'{workdirs[0]} is not local: give --out DIR for the report')
    out = os.path.join(workdirs[0], 'report')
  if not tolerance > 0:
    raise ConfigError(f'--tolerance must be > 0 nats, got {tolerance}')
  configs = {storage.normalize(w): results.load_config(w) for w in workdirs}
  df = results.load_results(workdirs)
  for w in configs:
    if not df['workdir'].eq(w).any():
      raise ConfigError(f'{w} has no results yet (results.jsonl has no complete row)')
  if LR_KEY not in df:  # no sweep over the LR: each row's is its workdir's base LR
    df[LR_KEY] = pd.to_numeric(df['workdir'].map(
        lambda w: configs[w]['base'].get(LR_KEY)), errors='coerce')
  keys = results.variant_keys(df)
  df = label_points(df)
  df['_norm'] = df.get('model.norm', df['workdir'].map(  # swept, or the workdir's base
      lambda w: configs[w]['base'].get('model.norm')))
  missing = {w: results.missing_points(w) for w in configs}
  incomplete = _incomplete(df, keys, configs, missing)
  per_seed = seed_metrics(df, tolerance)
  summary = summarize(per_seed)
  headline = headline_table(summary, incomplete)

  os.makedirs(out, exist_ok=True)
  styles = styles_for(list(pd.unique(df['variant'])))
  picks = figure_lrs(df, tolerance)
  figures = [(plot_lr_sensitivity(df, styles, out), '')] + [
      plot(df, styles, picks, out) for plot in (
          plot_training_curves, plot_depth_profiles, plot_attn_logit_max, plot_batchnorm)]
  _parquet_safe(df.drop(columns='_norm')).to_parquet(
      os.path.join(out, 'results.parquet'), index=False)
  command = ' '.join(['python -m lnexp.report', *workdirs, '--out', out] + (
      [] if tolerance == DEFAULT_TOLERANCE else ['--tolerance', str(tolerance)]))
  text = _markdown(df, configs, missing, per_seed, headline, figures, tolerance, command)
  with open(os.path.join(out, 'REPORT.md'), 'w') as f:
    f.write(text)
  print(headline)
  print(f'lnexp.report: {len(df)} points from {len(configs)} workdir(s); wrote '
        f'{os.path.join(out, "REPORT.md")}')
  return out


def _incomplete(df, keys, configs, missing) -> dict[str, int]:
  """Missing points per variant label (their swept keys filled from base)."""
  rows = [{**{k: configs[w]['base'].get(k) for k in keys if k != 'workdir'}, 'workdir': w,
           **{k: v for k, v in p.items() if k in keys}}
          for w, points in missing.items() for p in points]
  if not rows:
    return {}
  labels = results.variant_labels(pd.DataFrame(rows), keys)
  return labels.value_counts().to_dict()


CAPTIONS = {
    'lr_sensitivity.png': 'Final eval loss vs peak LR, one curve per variant (the line '
                          'joins LRs where every seed finished; dots are single seeds). '
                          'Crosses: diverged points, drawn at their init loss (nudged '
                          'sideways per variant so they do not hide each other).',
    'training_curves.png': "Train loss vs step at each variant's best LR.",
    'depth_profiles.png': 'Gradient norm after each block and residual-stream RMS vs '
                          'depth at the first (dashed) and last (solid) diagnostic step, '
                          "at each variant's best LR, first seed.",
    'attn_logit_max.png': "Max attention logit (max over depth) at each variant's "
                          'highest stable LR.',
    'batchnorm_stats.png': 'BatchNorm distance between batch and running mean/variance '
                           "(mean over depth and norms) at each BatchNorm variant's best LR.",
}


DEFINITIONS = """\
- A variant is one value of every swept key except `optim.lr` and the seeds
  (`train.seed`, `data.seed`); each metric is computed on one seed's LR grid.
- Best final eval loss: the lowest final eval loss (nats/token) of a
  non-diverged point; best LR: where it occurs.
- Max stable LR: the largest LR that did not diverge and whose final eval loss
  is within **{tolerance:g} nats** (`--tolerance`) of the best; stable range:
  log10(max stable LR / min stable LR), same criterion.
- Diverged: diverged points / points.
- LR sensitivity (Wortsman et al. 2023): mean over the LR grid of
  min(final eval loss, init loss) minus the best final eval loss over the grid;
  a diverged point counts as its row's init loss ("counted as" under Points).
- Several seeds: mean ± sample std [95% interval] over per-seed values;
  t-interval for 2-4 seeds, bootstrap percentile ({samples} resamples of the
  seed mean, fixed rng seed) for 5 or more. Best LR and max stable LR list every
  per-seed value.
- "(k missing)": the variant's LR grid is incomplete; its numbers will change.
"""


def _markdown(df, configs, missing, per_seed, headline, figures, tolerance,
              command: str) -> str:
  several = len(configs) > 1
  now = datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')
  read = {w: int(df['workdir'].eq(w).sum()) for w in configs}
  lines = [
      '# lnexp report', '',
      (f'Made by `{command}` on {now}. Every number here is computed from the '
       f'{len(df)} results.jsonl rows listed under "Points"; sweep points without a '
       'row are listed under "Missing points", never interpolated.'), '',
      '## Workdirs', '',
      markdown_table(['workdir', 'config', 'sweep points', 'rows read', 'missing'], [
          [w, str(c.get('name', '-')), str(read[w] + len(missing[w])), str(read[w]),
           str(len(missing[w]))] for w, c in configs.items()]), '',
      '## Per variant', '', headline, '',
      DEFINITIONS.format(tolerance=tolerance, samples=BOOTSTRAP_SAMPLES)]
  if per_seed['seed'].nunique() > 1:
    lines += ['## Per seed', '', seed_table(per_seed), '']
  lines += ['## Figures', '',
            ("Figures use each variant's seed-mean LR curve over the LRs where no seed "
             'diverged to choose its best and highest stable LR.'), '']
  for name, note in figures:
    if name:
      lines += [f'![{name}]({name})', '', CAPTIONS[name], '']
    elif note:
      lines += [f'- {note}', '']
  lines += ['## Missing points', '']
  if not any(missing.values()):
    lines += ['None: every sweep point has a result row.', '']
  for w, points in missing.items():
    for p in points:
      overrides = ', '.join(f'{k}={v}' for k, v in p.items() if k != 'point_id')
      lines.append(f'- `{p["point_id"]}` ({overrides}) in {w}: no result row '
                   '(still running, killed, or not started)')
  lines += ['', '## Points', '', points_table(df, several), '']
  return '\n'.join(lines)


def define_flags(fv, argv) -> None:
  from absl import flags
  flags.DEFINE_string('out', None, 'Output folder (default DIR/report; required for '
                      'several DIRs).', flag_values=fv)
  flags.DEFINE_float('tolerance', DEFAULT_TOLERANCE, 'Nats above the best final eval '
                     'loss that still count as stable.', lower_bound=0.0, flag_values=fv)


def main(argv: list[str] | None = None) -> int:
  """`python -m lnexp.report DIR [DIR ...] [--out OUT] [--tolerance NATS]`."""
  from lnexp import cli
  return cli.main('lnexp.report', define_flags, _report, argv, positional='DIR [DIR ...]')


def _report(fv, workdirs: list[str]) -> None:
  write_report(workdirs, fv.out, fv.tolerance)
