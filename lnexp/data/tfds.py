"""TFDS datasets by random access (array_record, no TensorFlow): text, or images."""
from __future__ import annotations

import collections
from typing import Any

import numpy as np

from lnexp.data.base import (
  BOS,
  BYTE_VOCAB_SIZE,
  EOS,
  EVAL,
  NUM_SPECIAL,
  SPLIT_NAMES,
  TRAIN,
  DataSource,
  pad_rows,
)
from lnexp.data.images import ImageSource
from lnexp.errors import ConfigError


def _tfds_open_error(tfds: Any, name: str, data_dir: str, download: bool,
                     split: str, error: Exception) -> ConfigError:
  """Says 'not prepared' when it is so, else which split failed and why."""
  where = data_dir or tfds.core.constants.DATA_DIR
  if not download:
    try:
      prepared = tfds.builder(name, data_dir=data_dir or None).is_prepared()
    except Exception:  # pylint: disable=broad-except
      prepared = False
    if not prepared:
      return ConfigError(
          f'data.tfds_name={name!r} not found in {where} (offline); set '
          'data.tfds_download=True to download, or data.tfds_data_dir to '
          'where it is prepared')
  first_line = (str(error).strip().splitlines() or [''])[0]
  return ConfigError(
      f'data.tfds_name={name!r}: cannot open split {split!r} from {where} as '
      f'array_record: {type(error).__name__}: {first_line}')


def open_tfds(name: str, data_dir: str, download: bool):
  """Returns (train, eval) random-access tfds sources; ConfigError otherwise."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  def open_split(split):
    try:
      return tfds.data_source(
          name, split=split, data_dir=data_dir or None, download=download,
          builder_kwargs={'file_format': 'array_record'})
    except tfds.core.DatasetNotFoundError:
      raise ConfigError(f'data.tfds_name={name!r} is not a known TFDS dataset'
                        ) from None
    except Exception as e:  # pylint: disable=broad-except
      raise _tfds_open_error(tfds, name, data_dir, download, split, e) from None

  train = open_split('train')
  info = getattr(train, 'dataset_info', None)
  splits = set(info.splits.keys()) if info is not None else set()
  # Splits are unknown (empty) when tfds is mocked: try test, then validation.
  candidates = [s for s in ('test', 'validation') if not splits or s in splits]
  if not candidates:
    raise ConfigError(f'data.tfds_name={name!r} has no test or validation split '
                      f'(splits: {", ".join(sorted(splits))})')
  for split in candidates[:-1]:
    try:
      return train, open_split(split)
    except ConfigError:
      pass
  return train, open_split(candidates[-1])


def _text_feature(name: str, record: Any) -> str:
  """The first string-valued feature of a record ('text' when present)."""
  if isinstance(record, dict):
    if isinstance(record.get('text'), (str, bytes)):
      return 'text'
    for key, value in record.items():
      if isinstance(value, (str, bytes, np.bytes_, np.str_)):
        return key
  keys = list(record) if isinstance(record, dict) else type(record).__name__
  raise ConfigError(f'data.tfds_name={name!r} has no text feature (features: '
                    f'{keys})')


class TfdsSource(DataSource):
  """Byte-level LM on a TFDS dataset read by random access (array_record).

  Row j is built on record perm[j mod N] of a seeded per-epoch permutation;
  packed rows continue with uniformly drawn records (docs/data-and-workdir.md).
  """

  _CACHE_BYTES = 64 << 20  # tokenised documents kept in memory
  _BATCHED_READ = 16       # fewer missing records are read one by one
  _FOLLOW_BLOCK = 16       # continuation documents drawn per row at a time

  def __init__(self, *, tfds_name: str, data_dir: str, download: bool, **kwargs):
    super().__init__(**kwargs)
    self.vocab_size = BYTE_VOCAB_SIZE
    self.name = f'tfds:{tfds_name}'
    train, evaluation = open_tfds(tfds_name, data_dir, download)
    self._records = {TRAIN: train, EVAL: evaluation}
    for split, source in self._records.items():
      if not len(source):
        raise ConfigError(f'data.tfds_name={tfds_name!r}: the '
                          f'{SPLIT_NAMES[split]} split has no records')
    self._feature = _text_feature(tfds_name, train[0])
    self._docs = collections.OrderedDict()   # (split, key) -> tokens, LRU
    self._doc_bytes = 0
    self._perms = collections.OrderedDict()  # (split, epoch) -> permutation

  def _permutation(self, split: int, epoch: int) -> np.ndarray:
    key = (split, epoch)
    if key not in self._perms:
      size = len(self._records[split])
      rng = np.random.default_rng([self.seed, split, 1 << 32 | epoch])
      self._perms[key] = rng.permutation(size).astype(
          np.int32 if size < 2**31 else np.int64)
      while len(self._perms) > 4:
        self._perms.popitem(last=False)
    return self._perms[key]

  def _tokenize(self, record: Any) -> np.ndarray:
    text = record[self._feature]
    data = text.encode('utf-8') if isinstance(text, str) else bytes(text)
    doc = np.empty(len(data) + 2, dtype=np.int32)
    doc[0], doc[-1] = BOS, EOS
    doc[1:-1] = np.frombuffer(data, dtype=np.uint8)
    doc[1:-1] += NUM_SPECIAL
    return doc

  def _fetch(self, split: int, keys: list[int]) -> list[np.ndarray]:
    """`BOS bytes EOS` token arrays of records, through a bounded LRU cache."""
    missing = sorted({k for k in keys if (split, k) not in self._docs})
    if missing:
      source = self._records[split]
      records = None
      if len(missing) >= self._BATCHED_READ:
        try:  # array_record reads in parallel, after a fixed ~ms overhead
          records = source.__getitems__(missing)
        except (AttributeError, TypeError):
          pass  # plain sequences lack it; tfds.testing.mock_data's is unbound
      if records is None:
        records = [source[k] for k in missing]
      for k, record in zip(missing, records):
        doc = self._tokenize(record)
        self._docs[(split, k)] = doc
        self._doc_bytes += doc.nbytes
    docs = []
    for k in keys:
      self._docs.move_to_end((split, k))
      docs.append(self._docs[(split, k)])
    while self._doc_bytes > self._CACHE_BYTES and len(self._docs) > len(keys):
      _, doc = self._docs.popitem(last=False)
      self._doc_bytes -= doc.nbytes
    return docs

  def _rows(self, split: int, index: int) -> np.ndarray:
    rng = self._rng(split, index)
    b, length = self.batch_size, self.seq_len + 1
    size = len(self._records[split])
    epoch_B, pos_B = np.divmod(index * b + np.arange(b, dtype=np.int64), size)
    keys = [int(self._permutation(split, int(e))[p])
            for e, p in zip(epoch_B, pos_B)]
    first_docs = self._fetch(split, keys)
    if not self.pack:
      return pad_rows(first_docs, length)
    frac_B = rng.random(b)
    rows_BxL = np.empty((b, length), dtype=np.int32)
    filled_B = np.zeros(b, dtype=np.int64)
    for r, doc in enumerate(first_docs):
      piece = doc[int(frac_B[r] * len(doc)):][:length]
      rows_BxL[r, :len(piece)] = piece
      filled_B[r] = len(piece)
    # Continuation documents: drawn up front in blocks (so they never depend
    # on the cache), read in waves of one batched fetch per wave.
    wave = 0
    while (filled_B < length).any():
      if wave % self._FOLLOW_BLOCK == 0:
        follow_BxK = rng.integers(size, size=(b, self._FOLLOW_BLOCK))
      open_R = np.flatnonzero(filled_B < length)
      docs = self._fetch(split, follow_BxK[open_R, wave % self._FOLLOW_BLOCK]
                         .tolist())
      for r, doc in zip(open_R, docs):
        piece = doc[:length - filled_B[r]]
        rows_BxL[r, filled_B[r]:filled_B[r] + len(piece)] = piece
        filled_B[r] += len(piece)
      wave += 1
    return rows_BxL


def image_source(name: str, data_dir: str, download: bool, **kwargs) -> ImageSource:
  """A TFDS image dataset ('image', 'label' features: mnist, cifar10) in memory."""
  sources = open_tfds(name, data_dir, download)  # (train, test or validation)
  splits = []
  for source in sources:
    records = [source[i] for i in range(len(source))]
    images = np.stack([np.asarray(r['image']) for r in records]).astype(np.float32)
    splits.append((images / 255.0, np.asarray([r['label'] for r in records])))
  classes = sources[0].dataset_info.features['label'].num_classes
  return ImageSource(name=f'tfds:{name}', train=splits[0], test=splits[1],
                     num_classes=classes, **kwargs)


def check(d) -> None:
  if not d.tfds_name:
    raise ConfigError("data.tfds_name is empty; data.source='tfds' needs a "
                      "dataset name, e.g. 'lm1b' or 'tiny_shakespeare'")


def make(cfg, **common) -> DataSource:
  """data.source=tfds: images for a model that classifies them, else byte-level text."""
  from lnexp.models.archs import ARCHS  # a TFDS name may hold either kind
  d = cfg.data
  if ARCHS[cfg.model.arch].images:
    return image_source(d.tfds_name, d.tfds_data_dir, bool(d.tfds_download), **common)
  return TfdsSource(tfds_name=d.tfds_name, data_dir=d.tfds_data_dir,
                    download=bool(d.tfds_download), **common)
