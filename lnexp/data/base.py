"""The batch layout and the `DataSource` base class every source implements.

Every batch is a pure function of (data.seed, split, index), a dict of numpy
[B, T] arrays: inputs, targets (int32), input_mask, loss_mask (float32) and
segment_ids (int32); their meaning: docs/data-and-workdir.md.
"""
from __future__ import annotations

import numpy as np

PAD, BOS, EOS = 0, 1, 2
NUM_SPECIAL = 3
BYTE_VOCAB_SIZE = 256 + NUM_SPECIAL
TRAIN_FRACTION = 0.9  # text: first 90% of the bytes train, last 10% eval

# Second word of every seed: keeps the train, eval and language streams apart.
TRAIN, EVAL, LANGUAGE = 0, 1, 2
SPLIT_NAMES = {TRAIN: 'train', EVAL: 'eval'}

Batch = dict[str, np.ndarray]


def rows_to_batch(rows_BxL: np.ndarray) -> Batch:
  """Turns token rows of length T+1 into the [B, T] batch dict (masks, segments)."""
  rows_BxL = np.asarray(rows_BxL, dtype=np.int32)
  inputs_BxT = np.ascontiguousarray(rows_BxL[:, :-1])
  targets_BxT = np.ascontiguousarray(rows_BxL[:, 1:])
  real_BxT = inputs_BxT != PAD
  bos_BxT = inputs_BxT == BOS
  # A row that starts mid-document still starts in segment 1.
  segment_ids_BxT = (np.cumsum(bos_BxT, axis=1, dtype=np.int32)
                     + ~bos_BxT[:, :1]).astype(np.int32) * real_BxT
  return {
      'inputs': inputs_BxT,
      'targets': targets_BxT,
      'input_mask': real_BxT.astype(np.float32),
      'loss_mask': (targets_BxT != PAD).astype(np.float32),
      'segment_ids': segment_ids_BxT.astype(np.int32),
  }


class DataSource:
  """Base class: fixed-shape batches addressed by (split, index), no state."""

  name: str = ''
  vocab_size: int = 0
  entropy_floor: float | None = None

  def __init__(self, *, batch_size: int, seq_len: int, seed: int,
               eval_batches: int, pack: bool):
    self.batch_size = batch_size
    self.seq_len = seq_len
    self.seed = seed
    self.eval_batches = eval_batches
    self.pack = pack

  def train_batch(self, step: int) -> Batch:
    """The training batch of `step` (same step, same batch, in any process)."""
    step = int(step)
    if step < 0:
      raise ValueError(f'train_batch: step={step} must be >= 0')
    return self._batch(TRAIN, step)

  def eval_batch(self, index: int) -> Batch:
    """Held-out batch `index` in [0, train.eval_batches), from the eval stream."""
    index = int(index)
    if not 0 <= index < self.eval_batches:
      raise IndexError(f'eval_batch: index={index} not in '
                       f'[0, {self.eval_batches}) (train.eval_batches)')
    return self._batch(EVAL, index)

  def _batch(self, split: int, index: int) -> Batch:
    return rows_to_batch(self._rows(split, index))

  def _rng(self, split: int, index: int) -> np.random.Generator:
    return np.random.default_rng([self.seed, split, index])

  def _rows(self, split: int, index: int) -> np.ndarray:
    """Returns int32 token rows [B, T+1] of one batch."""
    raise NotImplementedError

  def __repr__(self) -> str:
    return (f'{type(self).__name__}(name={self.name!r}, '
            f'vocab_size={self.vocab_size}, pack={self.pack})')


def pad_rows(docs: list[np.ndarray], length: int) -> np.ndarray:
  """Truncates/pads token documents into int32 rows [len(docs), length]."""
  rows = np.full((len(docs), length), PAD, dtype=np.int32)
  for r, doc in enumerate(docs):
    n = min(len(doc), length)
    rows[r, :n] = doc[:n]
  return rows


def entropy(probs_NxV: np.ndarray) -> np.ndarray:
  """Row entropies in nats, 0 log 0 = 0."""
  logs = np.log(np.where(probs_NxV > 0, probs_NxV, 1.0))
  return -(probs_NxV * logs).sum(-1)
