"""TensorBoard event files: one run per point, one event file per point per process.

No writer thread and no open file, so hundreds of points work: each flush
appends and closes (docs/data-and-workdir.md). A resumed point drops the
events after its resume step first.
"""
from __future__ import annotations

import glob
import os
import socket
import struct
import time

from lnexp import config as config_lib

# Keys every run's hparams carry (besides the point's own swept keys).
HPARAM_KEYS = ('model.arch', 'model.norm', 'model.placement', 'model.share',
               'model.num_layers', 'model.hidden_dim', 'optim.lr', 'optim.warmup_steps',
               'optim.weight_decay', 'train.steps', 'train.batch_size', 'train.seed',
               'data.source', 'data.seed')
METRICS = ('eval_loss', 'train_loss')


def run_name(cfg, point_id: str) -> str:
  """`NORM-PLACEMENT-lrLR-POINT_ID`, e.g. layernorm-post-lr3e-03-1a2b3c4d."""
  m = cfg.model
  return f'{m.norm}-{m.placement}-lr{cfg.optim.lr:.0e}-{point_id}'


def hparams(cfg, overrides: dict, point_id: str) -> dict:
  """A point's hyperparameters as TensorBoard takes them (bool, str, int, float)."""
  values = {k: config_lib.get(cfg, k) for k in HPARAM_KEYS} | dict(overrides)
  return {'point_id': point_id, **{k: v for k, v in values.items()
                                   if isinstance(v, (bool, str, int, float))}}


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


def _record(data: bytes) -> bytes:
  """One TFRecord: length, its masked CRC, the data, its masked CRC."""
  from tensorboardX.record_writer import masked_crc32c
  header = struct.pack('<Q', len(data))
  return (header + struct.pack('<I', masked_crc32c(header)) + data
          + struct.pack('<I', masked_crc32c(data)))


def _records(data: bytes):
  """(start, end, event bytes) of each whole record; a torn tail is left out."""
  i = 0
  while i + 12 <= len(data):
    (length,) = struct.unpack('<Q', data[i:i + 8])
    end = i + 12 + length + 4
    if end > len(data):
      return
    yield i, end, data[i + 12:i + 12 + length]
    i = end


def _event(step: int, summary=None, **fields) -> bytes:
  from tensorboardX.proto import event_pb2
  return _record(event_pb2.Event(wall_time=time.time(), step=step, summary=summary,
                                 **fields).SerializeToString())


def start(logdir: str, resume_step: int, hparam_values: dict | None = None) -> str:
  """This process's event file for a point, its earlier files cut to
  `resume_step`; a fresh point (0) drops them and writes its hparams."""
  from tensorboardX.proto import event_pb2
  os.makedirs(logdir, exist_ok=True)
  for path in glob.glob(os.path.join(logdir, '*tfevents*')):
    if not resume_step:
      os.remove(path)
      continue
    data = open(path, 'rb').read()
    keep = [data[a:b] for a, b, event in _records(data)
            if event_pb2.Event.FromString(event).step <= resume_step]
    if sum(map(len, keep)) != len(data):
      tmp = f'{path}.{os.getpid()}.tmp'
      with open(tmp, 'wb') as f:
        f.write(b''.join(keep))
      os.replace(tmp, path)
  path = os.path.join(logdir, f'events.out.tfevents.{time.time():.0f}.'
                              f'{socket.gethostname()}.{os.getpid()}')
  header = _event(0, file_version='brain.Event:2')
  if not resume_step and hparam_values:
    from tensorboardX.summary import hparams as hparams_summaries
    header += b''.join(_event(0, summary) for summary in hparams_summaries(
        hparam_values, {m: None for m in METRICS}))
  with open(path, 'ab') as f:
    f.write(header)
  return path


def append(rows_by_file: dict[str, list[dict]]) -> None:
  """Appends each row's numbers as scalars at row['step'] to its event file."""
  from tensorboardX.proto import summary_pb2
  for path, rows in rows_by_file.items():
    if not rows:
      continue
    data = b''.join(_event(row['step'], summary_pb2.Summary(value=[
        summary_pb2.Summary.Value(tag=tag, simple_value=v) for tag, v in _values(row)]))
        for row in rows)
    with open(path, 'ab') as f:
      f.write(data)
