"""TensorBoard event files, one run per point, with no open file between writes.

Hundreds of points must work, so each flush (checkpoint cadence) writes a new
event file per point synchronously, one event per logged step, instead of
holding a writer thread and a file per point: tensorboardX's SummaryWriter
queues one event per scalar through a thread, a sixteenth of a claims run's
time on the 2-core CPU.
"""
from __future__ import annotations

import os
import time


def _values(row: dict):
  """(tag, number) of a row; lists (one per depth) become KEY/DEPTH."""
  for key, value in row.items():
    if key == 'step':
      continue
    if isinstance(value, list):  # per-depth diagnostics: one scalar per depth
      yield from ((f'{key}/{d}', v) for d, v in enumerate(value)
                  if isinstance(v, (int, float)))
    elif isinstance(value, (int, float)):
      yield key, value


def write_scalars(rows_by_logdir: dict[str, list[dict]]) -> None:
  """Appends each row's numbers as scalars at row['step'] to its logdir."""
  from tensorboardX.event_file_writer import EventsWriter
  from tensorboardX.proto import event_pb2, summary_pb2
  for logdir, rows in rows_by_logdir.items():
    if not rows:
      continue
    os.makedirs(logdir, exist_ok=True)
    # The suffix keeps two flushes within one second from sharing a file name.
    writer = EventsWriter(os.path.join(logdir, 'events'), f'.step{rows[0]["step"]}')
    for row in rows:
      summary = summary_pb2.Summary(value=[
          summary_pb2.Summary.Value(tag=tag, simple_value=v) for tag, v in _values(row)])
      writer.write_event(event_pb2.Event(wall_time=time.time(), step=row['step'],
                                         summary=summary))
    writer.close()
