"""TensorBoard event files: every logged scalar readable, per step, one file per process."""
import glob
import os
import struct

from tensorboardX.proto import event_pb2

from lnexp.runtime import tensorboard


def read_events(logdir) -> list[tuple[int, str, object]]:
  """(step, tag, value) of every summary value in a run's TFRecord event files
  (length, crc, data, crc), file by file; plugin summaries give their content."""
  out = []
  for path in sorted(glob.glob(f'{logdir}/events.out.tfevents.*')):
    data = open(path, 'rb').read()
    i = 0
    while i < len(data):
      (length,) = struct.unpack('<Q', data[i:i + 8])
      event = event_pb2.Event.FromString(data[i + 12:i + 12 + length])
      i += 12 + length + 4
      for v in event.summary.value:
        out.append((event.step, v.tag, v.metadata.plugin_data.content
                    if v.metadata.plugin_data.plugin_name else v.simple_value))
  return out


def read_scalars(logdir):
  return {(tag, step): v for step, tag, v in read_events(logdir) if isinstance(v, float)}


def test_appends_keep_every_scalar_in_one_file(tmp_path):
  logdir = str(tmp_path / 'p')
  path = tensorboard.start(logdir, 0, {'optim.lr': 0.01, 'point_id': 'p'})
  tensorboard.append({path: [{'step': 1, 'train_loss': 2.5, 'grad': [1.0, 3.0]},
                             {'step': 2, 'train_loss': 2.25, 'skip': None}]})
  tensorboard.append({path: [{'step': 3, 'eval_loss': 1.5}]})
  assert read_scalars(logdir) == {('train_loss', 1): 2.5, ('grad/0', 1): 1.0,
                                  ('grad/1', 1): 3.0, ('train_loss', 2): 2.25,
                                  ('eval_loss', 3): 1.5}
  assert len(os.listdir(logdir)) == 1


def test_a_resume_drops_later_events_and_a_fresh_start_all(tmp_path):
  logdir = str(tmp_path / 'p')
  first = tensorboard.start(logdir, 0, {'optim.lr': 0.01})
  tensorboard.append({first: [{'step': s, 'train_loss': float(s)} for s in (10, 20, 30)]})
  second = tensorboard.start(logdir, 20)  # resumed from the step-20 checkpoint
  tensorboard.append({second: [{'step': 30, 'train_loss': 3.5}]})
  assert read_scalars(logdir) == {('train_loss', 10): 10.0, ('train_loss', 20): 20.0,
                                  ('train_loss', 30): 3.5}
  tags = [tag for _, tag, _ in read_events(logdir)]
  assert tags.count('_hparams_/session_start_info') == 1 and tags.count('train_loss') == 3
  tensorboard.start(logdir, 0)  # no checkpoint: the point starts over
  assert read_events(logdir) == []
