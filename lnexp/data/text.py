"""Byte-level text: a UTF-8 file or the English prose CPython ships."""
from __future__ import annotations

import os
import re

import numpy as np

from lnexp.data.base import (
  BOS,
  BYTE_VOCAB_SIZE,
  EOS,
  EVAL,
  NUM_SPECIAL,
  PAD,
  SPLIT_NAMES,
  TRAIN,
  TRAIN_FRACTION,
  DataSource,
)
from lnexp.errors import ConfigError


def _min_file_bytes(need: int) -> int:
  """Smallest file whose train and eval splits both hold `need` bytes."""
  total = max(need, int((need - 1) / (1 - TRAIN_FRACTION)) - 10)
  while True:
    cut = int(total * TRAIN_FRACTION)
    if cut >= need and total - cut >= need:
      return total
    total += 1


_PARAGRAPH = re.compile(rb'(?:[^\n]*\S[^\n]*(?:\n|\Z))+')


def _paragraphs(data: bytes) -> tuple[np.ndarray, np.ndarray]:
  """(starts, lengths) of runs of non-blank lines, trailing whitespace cut."""
  starts, lengths = [], []
  for m in _PARAGRAPH.finditer(data):
    starts.append(m.start())
    lengths.append(len(m.group().rstrip()))
  return np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64)


class TextSource(DataSource):
  """Byte-level LM on a local UTF-8 file (token = byte + 3): packed rows are
  random windows, padded rows one paragraph each, as `BOS bytes EOS`."""

  def __init__(self, *, data: bytes, name: str, path: str, **kwargs):
    super().__init__(**kwargs)
    self.vocab_size = BYTE_VOCAB_SIZE
    self.name = name
    need = self.seq_len + 1
    cut = int(len(data) * TRAIN_FRACTION)
    parts = {TRAIN: data[:cut], EVAL: data[cut:]}
    for split, what in ((TRAIN, 'train split (first 90%)'),
                        (EVAL, 'eval split (last 10%)')):
      if len(parts[split]) < need:
        raise ConfigError(
            f'data.path={path!r} is too short: its {what} has '
            f'{len(parts[split])} bytes, needs at least {need} '
            f'(train.seq_len + 1); the file has {len(data)} bytes, needs at '
            f'least {_min_file_bytes(need)}')
    self._bytes = {k: np.frombuffer(p, dtype=np.uint8) for k, p in parts.items()}
    self._paragraphs = {}
    if not self.pack:
      for split, part in parts.items():
        starts, lengths = _paragraphs(part)
        if not len(starts):
          raise ConfigError(f'data.path={path!r}: the {SPLIT_NAMES[split]} '
                            'split has no non-blank paragraph (data.pack=False)')
        self._paragraphs[split] = (starts, lengths)

  def _rows(self, split: int, index: int) -> np.ndarray:
    rng = self._rng(split, index)
    b, length = self.batch_size, self.seq_len + 1
    bytes_N = self._bytes[split]
    pos_L = np.arange(length)
    if self.pack:
      start_B = rng.integers(0, len(bytes_N) - length + 1, size=b)
      return bytes_N[start_B[:, None] + pos_L].astype(np.int32) + NUM_SPECIAL
    starts, lengths = self._paragraphs[split]
    pick_B = rng.integers(0, len(starts), size=b)
    start_Bx1, len_Bx1 = starts[pick_B, None], lengths[pick_B, None]
    src_BxL = np.clip(start_Bx1 + pos_L - 1, 0, len(bytes_N) - 1)
    body_BxL = (pos_L >= 1) & (pos_L <= len_Bx1)
    rows_BxL = np.where(body_BxL, bytes_N[src_BxL].astype(np.int32) + NUM_SPECIAL,
                        PAD)
    rows_BxL = np.where(pos_L == len_Bx1 + 1, EOS, rows_BxL)
    rows_BxL[:, 0] = BOS
    return rows_BxL.astype(np.int32)


def read_text_file(path: str) -> bytes:
  """The bytes of a UTF-8 file (ConfigError naming the problem otherwise)."""
  if not path:
    raise ConfigError("data.path is empty; data.source='text' needs a UTF-8 "
                      'text file')
  full = os.path.expanduser(path)
  if not os.path.isfile(full):
    raise ConfigError(f'data.path={path!r} does not exist or is not a file')
  with open(full, 'rb') as f:
    data = f.read()
  try:
    data.decode('utf-8')
  except UnicodeDecodeError as e:
    raise ConfigError(f'data.path={path!r} is not UTF-8 text: byte '
                      f'0x{data[e.start]:02x} at offset {e.start} '
                      f'({e.reason})') from None
  return data


def python_docs() -> bytes:
  """The English reference prose CPython ships (`pydoc_data.topics`, ~465 kB), offline;
  it differs slightly between Python versions."""
  from pydoc_data import topics
  return '\n\n'.join(topics.topics[k].strip() for k in sorted(topics.topics)).encode()


def make(cfg, **common) -> TextSource:
  """data.source=text (the UTF-8 file data.path) or python_docs, cut to its
  first data.max_bytes bytes (0: all)."""
  d = cfg.data
  if d.source == 'text':
    data, name = read_text_file(d.path), f'text:{os.path.basename(d.path)}'
  else:
    data, name = python_docs(), 'python_docs'
  if d.max_bytes:
    data, name = data[:d.max_bytes], f'{name}[:{d.max_bytes}]'
  return TextSource(data=data, name=name, path=d.path or name, **common)
