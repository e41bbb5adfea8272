"""A group's progress: a tqdm bar on a terminal, plain periodic lines otherwise."""
from __future__ import annotations

import sys
import time

import numpy as np


class Progress:
  """Plain lines estimate the time left from the steps after the first update
  (the steps before it include compiling)."""

  def __init__(self, label: str, total: int, start: int):
    self.label, self.total = label, total
    self.since = None  # (time, step) of the first update
    self.bar = None
    if sys.stderr.isatty():
      from tqdm import tqdm
      self.bar = tqdm(total=total, initial=start, desc=label, leave=False)

  def update(self, step: int, losses: np.ndarray, diverged: int) -> None:
    alive = losses[np.isfinite(losses)]
    text = (f'best {alive.min():.3f} worst {alive.max():.3f} ' if alive.size else '') + \
        f'diverged {diverged}'
    if self.bar is not None:
      self.bar.n = step
      self.bar.set_postfix_str(text)
      return
    print(f'{self.label} step {step}/{self.total} {text}{self._eta(step)}', flush=True)

  def _eta(self, step: int) -> str:
    now = time.time()
    if self.since is None:
      self.since = (now, step)
      return ''
    rate = (step - self.since[1]) / max(now - self.since[0], 1e-9)
    return f' eta {(self.total - step) / max(rate, 1e-9):.0f}s'

  def close(self) -> None:
    if self.bar is not None:
      self.bar.close()
