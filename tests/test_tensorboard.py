"""TensorBoard event files: every logged scalar readable, per step, nothing overwritten."""
import glob
import struct

from tensorboardX.proto import event_pb2

from lnexp.engine import tensorboard


def read_scalars(logdir):
  """{(tag, step): value} from TFRecord event files (length, crc, data, crc)."""
  out = {}
  for path in sorted(glob.glob(f'{logdir}/events.out.tfevents.*')):
    data = open(path, 'rb').read()
    i = 0
    while i < len(data):
      (length,) = struct.unpack('<Q', data[i:i + 8])
      event = event_pb2.Event.FromString(data[i + 12:i + 12 + length])
      i += 12 + length + 4
      for v in event.summary.value:
        out[(v.tag, event.step)] = v.simple_value
  return out


def test_two_flushes_in_one_second_keep_every_scalar(tmp_path):
  logdir = str(tmp_path / 'p')
  tensorboard.write_scalars({logdir: [{'step': 1, 'train_loss': 2.5, 'grad': [1.0, 3.0]},
                                      {'step': 2, 'train_loss': 2.25, 'skip': None}]})
  tensorboard.write_scalars({logdir: [{'step': 3, 'eval_loss': 1.5}]})
  assert read_scalars(logdir) == {('train_loss', 1): 2.5, ('grad/0', 1): 1.0,
                                  ('grad/1', 1): 3.0, ('train_loss', 2): 2.25,
                                  ('eval_loss', 3): 1.5}
