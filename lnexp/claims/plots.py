"""The claims report's figures: one function per figure, each returns [path].

Same style as lnexp.figures (Agg, constrained layout, one colour per variant);
seed 0 is drawn solid, other seeds faint, so spread across seeds shows.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from lnexp.analysis import figures as base
from lnexp.analysis import results

FIRST = 0  # index of the seed drawn solid


def _figure(ncols: int = 1, width: float = 6.0):
  return base._new_figure(ncols, width)


def _save(fig, path: str) -> list[str]:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  fig.savefig(path, dpi=110)
  return [path]


def _styles(df: pd.DataFrame) -> dict:
  return base.styles_for(list(dict.fromkeys(df['variant'])))


def lr_curves(df: pd.DataFrame, path: str, title: str) -> list[str]:
  """Final eval loss vs LR, every seed; a diverged run (a cross) at ln V."""
  fig, (ax,) = _figure()
  styles = _styles(df)
  for variant, d in df.groupby('variant', sort=False):
    st = styles[variant]
    for i, (_, s) in enumerate(d.groupby('seed')):
      s = s.sort_values('optim.lr')
      ax.plot(s['optim.lr'], s['loss_or_ln_v'], color=st['color'], marker=st['marker'],
              markersize=4, linewidth=1.6 if i == FIRST else 0.8,
              alpha=1.0 if i == FIRST else 0.4, label=variant if i == FIRST else None)
      bad = s[s['status'].ne('ok')]
      ax.scatter(bad['optim.lr'], bad['loss_or_ln_v'], marker='x', color=st['color'])
  base._floor_lines(ax, df)
  ax.set_xscale('log')
  ax.set_xlabel('peak learning rate')
  ax.set_ylabel('final eval loss, diverged = ln V (nats)')
  ax.set_title(title, fontsize=10)
  ax.legend(fontsize=7, ncol=2)
  ax.grid(True, alpha=0.3)
  return _save(fig, path)


def depth_profiles(df: pd.DataFrame, metrics: dict, path: str) -> list[str]:
  """Per-block gradient norm (init, end) and residual RMS (end) vs block index."""
  fig, axes = _figure(3, 4.5)
  styles = _styles(df)
  for variant, d in df.groupby('variant', sort=False):
    m = metrics[d.sort_values('seed')['point_id'].iloc[0]]
    for ax, (key, when) in zip(axes, (('depth/grad_flow', 'first'),
                                      ('depth/grad_flow', 'last'),
                                      ('depth/residual_rms', 'last'))):
      values = results.depth_value(m, key, when)
      if values is not None:
        ax.plot(np.arange(1, len(values) + 1), values, color=styles[variant]['color'],
                marker=styles[variant]['marker'], markersize=3, label=variant)
  for ax, title in zip(axes, ('gradient norm after each block, step 1',
                              'gradient norm after each block, end',
                              'residual-stream RMS after each block, end')):
    ax.set_yscale('log')
    ax.set_xlabel('block (shared weights)')
    ax.set_title(title + f' (depth {int(df["model.num_layers"].iloc[0])}, seed 0)',
                 fontsize=9)
    ax.grid(True, alpha=0.3)
  axes[0].legend(fontsize=7)
  return _save(fig, path)


def scaling(df: pd.DataFrame, path: str) -> list[str]:
  """Last-layer gradient norm vs depth, log-log, with the 1/sqrt(L) reference."""
  fig, (ax,) = _figure()
  styles = _styles(df)
  for variant, d in df.groupby('variant', sort=False):
    for i, (_, s) in enumerate(d.groupby('seed')):
      s = s.sort_values('model.num_layers')
      ax.plot(s['model.num_layers'], s['last_layer_grad'], color=styles[variant]['color'],
              marker=styles[variant]['marker'], alpha=1.0 if i == FIRST else 0.4,
              label=variant if i == FIRST else None)
  depths = np.array(sorted(df['model.num_layers'].unique()), dtype=float)
  start = df[df['model.num_layers'] == depths[0]]['last_layer_grad'].mean()
  ax.plot(depths, start * np.sqrt(depths[0] / depths), 'k--', linewidth=1,
          label='∝ 1/sqrt(L) (Xiong et al. 2020, pre-LN)')
  ax.set_xscale('log', base=2)
  ax.set_yscale('log')
  ax.set_xlabel('depth L (unshared layers)')
  ax.set_ylabel("last layer's weight-gradient norm at init")
  ax.legend(fontsize=8)
  ax.grid(True, alpha=0.3)
  return _save(fig, path)


def factor_curves(df: pd.DataFrame, factors, centre: dict, path: str) -> list[str]:
  """Final eval loss vs each factor's value, the others at the centre."""
  fig, axes = _figure(len(factors), 4.0)
  styles = _styles(df)
  for ax, factor in zip(axes, factors):
    others = [k for k in factors if k != factor]
    on_axis = df[np.logical_and.reduce([np.isclose(df[k], centre[k]) for k in others])]
    for variant, d in on_axis.groupby('variant', sort=False):
      for i, (_, s) in enumerate(d.groupby('seed')):
        s = s.sort_values(factor)
        ax.plot(s[factor], s['loss_or_ln_v'], color=styles[variant]['color'],
                marker=styles[variant]['marker'], alpha=1.0 if i == FIRST else 0.4,
                label=variant if i == FIRST else None)
    ax.set_xlabel(factor)
    ax.grid(True, alpha=0.3)
  axes[0].set_ylabel('final eval loss, diverged = ln V')
  axes[0].legend(fontsize=7)
  return _save(fig, path)


def gap_curves(df: pd.DataFrame, curves: dict, path: str) -> list[str]:
  """Eval loss against train loss over training: the gap at each fit."""
  fig, (ax,) = _figure()
  styles = _styles(df)
  lo = min(c['train'].min() for c in curves.values())
  hi = max(c['train'].max() for c in curves.values())
  for variant, d in df.groupby('variant', sort=False):
    for i, pid in enumerate(d.sort_values('seed')['point_id']):
      c = curves[pid]
      ax.plot(c['train'], c['eval'], color=styles[variant]['color'],
              alpha=1.0 if i == FIRST else 0.4, label=variant if i == FIRST else None)
  ax.plot([lo, hi], [lo, hi], 'k:', linewidth=1, label='eval = train')
  ax.invert_xaxis()
  ax.set_xlabel('train loss (smoothed; training runs right to left)')
  ax.set_ylabel('eval loss')
  ax.legend(fontsize=8)
  ax.grid(True, alpha=0.3)
  return _save(fig, path)


def batch_curves(best: pd.DataFrame, path: str) -> list[str]:
  """Best final eval loss and batch-statistics eval loss vs batch size."""
  fig, (ax,) = _figure()
  styles = _styles(best)
  for variant, d in best.groupby('variant', sort=False):
    mean = d.groupby('train.batch_size')[['final_eval_loss',
                                          'final_eval_loss_batch_stats']].mean()
    st = styles[variant]
    ax.plot(mean.index, mean['final_eval_loss'], color=st['color'], marker=st['marker'],
            label=f'{variant}')
    if mean['final_eval_loss_batch_stats'].notna().any():
      ax.plot(mean.index, mean['final_eval_loss_batch_stats'], color=st['color'],
              marker=st['marker'], linestyle='--', label=f'{variant}, batch statistics')
  base._floor_lines(ax, best)
  ax.set_xscale('log', base=2)
  ax.set_xlabel('batch size')
  ax.set_ylabel('final eval loss (seed mean, best LR)')
  ax.legend(fontsize=7)
  ax.grid(True, alpha=0.3)
  return _save(fig, path)


def time_profiles(best: pd.DataFrame, metrics: dict, path: str) -> list[str]:
  """LSTM hidden-state variance vs time step at the end, each variant's best LR."""
  fig, (ax,) = _figure()
  styles = _styles(best)
  for variant, d in best.groupby('variant', sort=False):
    for i, pid in enumerate(d.sort_values('seed')['point_id']):
      var_T = results.depth_value(metrics[pid], 'time/hidden_var')
      if var_T is not None:
        ax.plot(np.arange(len(var_T)), var_T, color=styles[variant]['color'],
                alpha=1.0 if i == FIRST else 0.4, label=variant if i == FIRST else None)
  ax.set_xlabel('time step (bytes into the window)')
  ax.set_ylabel('variance of the hidden state h_t')
  ax.set_title('LSTM hidden-state variance over time, end of training, best LR',
               fontsize=10)
  ax.legend(fontsize=8)
  ax.grid(True, alpha=0.3)
  return _save(fig, path)
