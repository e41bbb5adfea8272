"""The figures of `python -m lnexp.report` (matplotlib, Agg): one function per
figure, PNGs under OUT (the five: docs/claims-analysis.md).
"""
from __future__ import annotations

import math
import os
import textwrap

import numpy as np
import pandas as pd

from lnexp.analysis import results
from lnexp.analysis.results import LR_KEY
from lnexp.models.norms import NORMS

FIGURES = {name: f'{name}.png' for name in (  # name -> file under OUT
    'lr_sensitivity', 'training_curves', 'depth_profiles', 'attn_logit_max', 'batchnorm_stats')}


def _lr(x) -> str:
  return '-' if x is None or pd.isna(x) else f'{x:.3g}'


def seed_mean_curve(d: pd.DataFrame) -> pd.Series:
  """Mean final eval loss over seeds per LR, at LRs where no seed diverged."""
  return d.groupby(LR_KEY).apply(
      lambda g: g['final_eval_loss'].mean() if g['status'].eq('ok').all() else math.nan,
      include_groups=False).dropna()


def _new_figure(ncols: int = 1, width: float = 7.0):
  from matplotlib.figure import Figure  # savefig draws PNGs with Agg; no pyplot state
  fig = Figure(figsize=(width * ncols, 4.5), layout='constrained')
  axes = fig.subplots(1, ncols, squeeze=False)[0]
  return fig, axes


def styles_for(variants: list[str]) -> dict[str, dict]:
  """Per variant: color, marker, and line width / marker size that shrink with
  drawing order, so a variant drawn over an identical one still shows."""
  from matplotlib import colormaps
  cmap = colormaps['tab10' if len(variants) <= 10 else 'tab20']
  markers = 'osDvP*hp'  # not x or ^: those mark diverged and clipped points
  return {v: {'color': cmap(i % cmap.N), 'marker': markers[i % len(markers)],
              'linewidth': max(3.2 - 0.6 * i, 1.2), 'markersize': max(9.0 - 1.5 * i, 4.0)}
          for i, v in enumerate(variants)}


def _floor_lines(ax, df: pd.DataFrame) -> None:
  for floor in sorted(set(df['entropy_floor'].dropna())):
    ax.axhline(floor, color='0.3', linestyle='--', linewidth=1,
               label=f'entropy floor {floor:.3f} nats')


def _fit_legends(fig) -> None:
  """Wraps long legend labels (a multi-workdir report names variants by every
  key that differs) and makes the figure tall enough for its legends, so
  constrained layout never collapses the axes."""
  lines = 0
  for ax in fig.axes:
    legend = ax.get_legend()
    if legend is not None:
      for text in legend.get_texts():
        text.set_text(textwrap.fill(text.get_text(), 48))
      lines = max(lines, sum(t.get_text().count('\n') + 1 for t in legend.get_texts()))
  width, height = fig.get_size_inches()
  fig.set_size_inches(width, max(height, 1.6 + 0.17 * lines))


def _save(fig, out: str | None, name: str):
  """The figure's file name after writing it to `out`; the Figure itself when
  `out` is None (a notebook shows it, or draws on its axes)."""
  _fit_legends(fig)
  if out is None:
    return fig
  fig.savefig(os.path.join(out, FIGURES[name]), dpi=120)
  return FIGURES[name]


def plot_lr_sensitivity(df: pd.DataFrame, styles: dict, out: str | None = None):
  """(a) Final eval loss vs LR per variant, diverged points as x at init loss; a
  second panel zooms on the finished points when those squeeze them into a band."""
  from matplotlib.lines import Line2D
  from matplotlib.ticker import NullFormatter
  top = df['init_loss'].max() * 1.04
  ok_all = df[df['status'].eq('ok') & df['final_eval_loss'].notna()]
  low = min([*ok_all['final_eval_loss'], *df['entropy_floor'].dropna(), top])
  high = min(ok_all['final_eval_loss'].max(), top) if len(ok_all) else top
  zoom = len(ok_all) > 0 and (high - low) < 0.4 * (top - low)
  fig, axes = _new_figure(2 if zoom else 1, 5.5 if zoom else 7.0)
  n = df['variant'].nunique()
  clipped = False
  for i, (variant, d) in enumerate(df.groupby('variant', sort=False)):
    st = styles[variant]
    nudge = 10 ** (0.05 * (i - (n - 1) / 2))  # diverged x's of variants side by side
    ok = d[d['status'].eq('ok') & d['final_eval_loss'].notna()]
    curve = seed_mean_curve(d)
    above = ok[ok['final_eval_loss'] > top]
    clipped |= len(above) > 0
    bad = d[d['status'].ne('ok')]
    for ax in axes:
      ax.plot(curve.index, np.minimum(curve.values, top), '-', color=st['color'],
              linewidth=st['linewidth'], alpha=0.9)
      ax.plot(ok[LR_KEY], np.minimum(ok['final_eval_loss'], top), linestyle='',
              marker=st['marker'], color=st['color'], markersize=st['markersize'],
              alpha=0.8 if d['seed'].nunique() > 1 else 1.0)
    axes[0].plot(above[LR_KEY], [top] * len(above), '^', color=st['color'], markersize=9)
    axes[0].plot(bad[LR_KEY] * nudge, bad['init_loss'], 'x', color=st['color'],
                 markersize=11, markeredgewidth=2.5)
  for ax in axes:
    _floor_lines(ax, df)
    ax.set_xscale('log')
    ax.xaxis.set_minor_formatter(NullFormatter())  # decade labels only
    ax.set_xlabel('peak learning rate (log scale)')
    ax.set_ylabel('final eval loss (nats/token)')
    ax.grid(True, which='major', alpha=0.3)
  axes[0].set_ylim(top=top * 1.01)
  axes[0].set_title('Final eval loss vs learning rate\n(Wortsman et al. 2023, fig. 1 '
                    'layout)', fontsize=10)
  if zoom:
    pad = 0.08 * (high - low) + 1e-3
    axes[1].set_ylim(low - pad, high + pad)
    lrs = sorted(set(ok_all[LR_KEY]))
    axes[1].set_xticks(lrs, [_lr(x) for x in lrs], rotation=45 if len(lrs) > 6 else 0)
    axes[1].set_xticks([], minor=True)
    axes[1].set_title('Zoom on the finished points\n(diverged points: left panel)',
                      fontsize=10)
  handles = [Line2D([], [], **styles[v], label=v) for v in pd.unique(df['variant'])]
  handles += [line for line in axes[0].lines
              if line.get_label().startswith('entropy floor')]
  handles.append(Line2D([], [], linestyle='', marker='x', color='k', markersize=9,
                        markeredgewidth=2.5, label='diverged (drawn at init loss)'))
  if clipped:
    handles.append(Line2D([], [], linestyle='', marker='^', color='k',
                          label='worse than init loss (clipped)'))
  axes[0].legend(handles=handles, fontsize=8, loc='best')
  return _save(fig, out, 'lr_sensitivity')


def _metrics_at(df: pd.DataFrame, variant: str, lr: float) -> list[tuple[str, pd.DataFrame]]:
  """(seed, metrics) of a variant's points at one LR, first seed first."""
  d = df[df['variant'].eq(variant) & df[LR_KEY].eq(lr)].sort_values('seed')
  return [(r['seed'], results.load_metrics(r['workdir'], r['point_id']))
          for _, r in d.iterrows()]


def plot_training_curves(df, styles, picks, out=None) -> tuple:
  """(b) Train loss vs step at each variant's best LR (every seed)."""
  fig, (ax,) = _new_figure()
  drawn = 0
  for variant, (best_lr, _) in picks.items():
    for i, (_, m) in enumerate(_metrics_at(df, variant, best_lr)):
      if 'train_loss' in m:
        ax.plot(m['step'], m['train_loss'], color=styles[variant]['color'],
                linewidth=styles[variant]['linewidth'] * 0.7, alpha=1.0 if i == 0 else 0.5,
                label=f'{variant} (lr {_lr(best_lr)})' if i == 0 else None)
        drawn += 1
  if not drawn:
    return None, 'training curves: no metrics with train_loss at any best LR'
  _floor_lines(ax, df)
  ax.set_xlabel('training step')
  ax.set_ylabel('train loss (nats/token)')
  ax.set_title("Training loss at each variant's best LR" + _seed_note(df), fontsize=10)
  ax.legend(fontsize=8)
  ax.grid(True, alpha=0.3)
  return _save(fig, out, 'training_curves'), ''


def _log_if_wide(ax) -> str:
  """Log y-axis when the plotted values span more than a decade; the label suffix."""
  y = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in ax.lines])
  y = y[np.isfinite(y)]
  if len(y) and y.min() > 0 and y.max() / y.min() > 10:
    ax.set_yscale('log')
    return ' (log scale)'
  return ''


def _seed_note(df: pd.DataFrame) -> str:
  return ' (lighter: other seeds)' if df['seed'].nunique() > 1 else ''


def plot_depth_profiles(df, styles, picks, out=None) -> tuple:
  """(c) Grad-flow norm and residual RMS vs depth, first and last diagnostic step."""
  from matplotlib.lines import Line2D
  keys = ('depth/grad_flow', 'depth/residual_rms')
  fig, axes = _new_figure(2, 5.5)
  drawn, steps = 0, set()
  for variant, (best_lr, _) in picks.items():
    runs = _metrics_at(df, variant, best_lr)
    if not runs:
      continue
    m = runs[0][1]  # first seed
    if not all(k in m for k in keys):
      continue
    logged = m[m[keys[0]].apply(lambda v: isinstance(v, list))]
    if logged.empty:
      continue
    for row, style in ((logged.iloc[0], '--'), (logged.iloc[-1], '-')):
      steps.add(int(row['step']))
      for ax, key in zip(axes, keys):
        y = results.depth_array(row[key])
        ax.plot(np.arange(1, len(y) + 1), y, style, **styles[variant],
                fillstyle='none' if style == '--' else 'full')
    drawn += 1
  if not drawn:
    return None, ('depth profiles: skipped, the metrics hold no depth/grad_flow and '
                  'depth/residual_rms (diagnostics disabled?)')
  for ax, ylabel, title in zip(
      axes, ('||dL/dx|| after block (Frobenius norm)',
             'residual-stream RMS (activation units)'),
      ('Gradient flow vs depth', 'Residual RMS vs depth')):
    ax.set_xlabel('depth (block index, 1 = nearest the embedding)')
    ax.set_ylabel(ylabel + _log_if_wide(ax))
    ax.set_title(title + " (best LR, first seed)", fontsize=10)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, alpha=0.3)
  handles = [Line2D([], [], **styles[v], label=v) for v in picks]
  handles += [Line2D([], [], color='k', linestyle='--', marker='o', fillstyle='none',
                     label='first diagnostic step'),
              Line2D([], [], color='k', linestyle='-', marker='o',
                     label='last diagnostic step')]
  axes[1].legend(handles=handles, fontsize=8)
  fig.suptitle(f"diagnostic steps drawn: {', '.join(map(str, sorted(steps)))}",
               fontsize=9)
  return _save(fig, out, 'depth_profiles'), ''


def _over_depth(m: pd.DataFrame, keys: list[str], reduce) -> pd.Series:
  """Per step: reduce() over depth (and over several keys) of list-valued metrics."""
  def one(row):
    arrays = [results.depth_array(row[k]) for k in keys if isinstance(row[k], list)]
    return reduce(np.concatenate(arrays)) if arrays else math.nan
  return m.apply(one, axis=1)


def plot_attn_logit_max(df, styles, picks, out=None) -> tuple:
  """(d) Max attention logit (max over depth) over training at the highest stable LR."""
  fig, (ax,) = _new_figure()
  drawn = 0
  for variant, (_, stable_lr) in picks.items():
    for i, (_, m) in enumerate(_metrics_at(df, variant, stable_lr)):
      if 'depth/attn/logit_max' not in m:
        continue
      y = _over_depth(m, ['depth/attn/logit_max'], np.nanmax)
      ax.plot(m['step'][y.notna()], y.dropna(), color=styles[variant]['color'],
              marker=styles[variant]['marker'], markersize=4, alpha=1.0 if i == 0 else 0.5,
              label=f'{variant} (lr {_lr(stable_lr)})' if i == 0 else None)
      drawn += 1
  if not drawn:
    return None, 'attention logits: skipped, the metrics hold no depth/attn/logit_max'
  ax.set_xlabel('training step')
  ax.set_ylabel('max attention logit (pre-softmax, max over depth)')
  ax.set_title("Attention logits at each variant's highest stable LR"
               + _seed_note(df), fontsize=10)
  ax.legend(fontsize=8)
  ax.grid(True, alpha=0.3)
  return _save(fig, out, 'attn_logit_max'), ''


def plot_batchnorm(df, styles, picks, out=None) -> tuple:
  """(e) BatchNorm batch-vs-running statistic distance over training (mean over depth)."""
  bn = [v for v in picks if df.loc[df['variant'].eq(v), '_norm'].map(
      lambda n: n in NORMS and NORMS[n].running_stats).any()]
  if not bn:
    return None, 'BatchNorm statistics: not drawn, no variant has running statistics'
  fig, axes = _new_figure(2, 5.5)
  drawn = 0
  for variant in bn:
    for i, (_, m) in enumerate(_metrics_at(df, variant, picks[variant][0])):
      for ax, stat in zip(axes, ('bn_mean_dist', 'bn_var_dist')):
        keys = [k for k in m.columns if k.startswith('depth/') and k.endswith('/' + stat)]
        if not keys:
          continue
        y = _over_depth(m, keys, np.nanmean)
        ax.plot(m['step'][y.notna()], y.dropna(), color=styles[variant]['color'],
                marker=styles[variant]['marker'], markersize=4,
                alpha=1.0 if i == 0 else 0.5,
                label=f'{variant} (lr {_lr(picks[variant][0])})' if i == 0 else None)
        drawn += 1
  if not drawn:
    return None, ('BatchNorm statistics: skipped, no depth/*/bn_mean_dist in the metrics '
                  'of the BatchNorm variants')
  fig.suptitle('mean over depth and over the norms of a block', fontsize=9)
  for ax, what in zip(axes, ('mean', 'variance')):
    ax.set_xlabel('training step')
    ax.set_ylabel(f'||batch {what} - running {what}|| / d' + _log_if_wide(ax))
    ax.set_title(f'BatchNorm batch vs running {what}' + _seed_note(df), fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
  return _save(fig, out, 'batchnorm_stats'), ''
