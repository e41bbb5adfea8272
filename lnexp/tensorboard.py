"""TensorBoard event files, one run per point, with no open file between writes.

Hundreds of points must work, so a writer is opened, filled and closed per
flush (checkpoint cadence) instead of holding a thread and a file per point.
"""
from __future__ import annotations


def write_scalars(rows_by_logdir: dict[str, list[dict]]) -> None:
  """Writes each row's numbers (lists: one per depth) as scalars at row['step']."""
  from tensorboardX import SummaryWriter
  for logdir, rows in rows_by_logdir.items():
    if not rows:
      continue
    writer = SummaryWriter(logdir, flush_secs=3600)
    for row in rows:
      for key, value in row.items():
        if key == 'step':
          continue
        if isinstance(value, (int, float)):
          writer.add_scalar(key, value, row['step'])
        elif isinstance(value, list):  # per-depth diagnostics: one scalar per depth
          for depth, v in enumerate(value):
            if isinstance(v, (int, float)):
              writer.add_scalar(f'{key}/{depth}', v, row['step'])
    writer.close()
