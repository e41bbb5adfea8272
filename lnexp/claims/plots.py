"""What the claims report's figures share (in lnexp.analysis.figures' style): a
figure, its styles, saving it, and the LR curve several experiments draw; seed 0
solid, other seeds faint, so spread across seeds shows.
"""
from __future__ import annotations

import os

import pandas as pd

from lnexp.analysis import figures as base

FIRST = 0  # index of the seed drawn solid
floor_lines = base._floor_lines  # a dashed line at each entropy floor of the rows


def figure(ncols: int = 1, width: float = 6.0):
  """(figure, axes): `ncols` panels side by side."""
  return base._new_figure(ncols, width)


def save(fig, path: str) -> list[str]:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  fig.savefig(path, dpi=110)
  return [path]


def styles(df: pd.DataFrame) -> dict:
  return base.styles_for(list(dict.fromkeys(df['variant'])))


def lr_curves(df: pd.DataFrame, path: str, title: str) -> list[str]:
  """Final eval loss vs LR, every seed; a diverged run (a cross) at ln V."""
  fig, (ax,) = figure()
  style = styles(df)
  for variant, d in df.groupby('variant', sort=False):
    st = style[variant]
    for i, (_, s) in enumerate(d.groupby('seed')):
      s = s.sort_values('optim.lr')
      ax.plot(s['optim.lr'], s['loss_or_ln_v'], color=st['color'], marker=st['marker'],
              markersize=4, linewidth=1.6 if i == FIRST else 0.8,
              alpha=1.0 if i == FIRST else 0.4, label=variant if i == FIRST else None)
      bad = s[s['status'].ne('ok')]
      ax.scatter(bad['optim.lr'], bad['loss_or_ln_v'], marker='x', color=st['color'])
  floor_lines(ax, df)
  ax.set_xscale('log')
  ax.set_xlabel('peak learning rate')
  ax.set_ylabel('final eval loss, diverged = ln V (nats)')
  ax.set_title(title, fontsize=10)
  ax.legend(fontsize=7, ncol=2)
  ax.grid(True, alpha=0.3)
  return save(fig, path)
