"""Data sources: synthetic Markov language, a UTF-8 file, CPython's docs, TFDS.

Every batch is a pure function of (data.seed, split, index): there is no
iterator state, so resuming a run means calling `train_batch(step)` again and
any two processes agree on every batch. Batches are numpy [B, T] arrays:

  inputs, targets  int32    targets[:, t] is the token after inputs[:, t]
  input_mask       float32  1 where the input is a real token (not PAD)
  loss_mask        float32  1 where the target counts in the loss (not PAD)
  segment_ids      int32    document id within the row (1, 2, ... bumped at
                            each BOS; 0 on PAD) so attention stays in-document

Token ids 0, 1, 2 are PAD, BOS, EOS in every source; text sources use
byte + 3.
"""
from __future__ import annotations

import collections
import os
import re
from typing import Any

import numpy as np

from lnexp.errors import ConfigError

PAD, BOS, EOS = 0, 1, 2
NUM_SPECIAL = 3
BYTE_VOCAB_SIZE = 256 + NUM_SPECIAL
TRAIN_FRACTION = 0.9  # text: first 90% of the bytes train, last 10% eval

# Second word of every seed: keeps the train, eval and language streams apart.
_TRAIN, _EVAL, _LANGUAGE = 0, 1, 2
_SPLIT_NAMES = {_TRAIN: 'train', _EVAL: 'eval'}

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
    return rows_to_batch(self._rows(_TRAIN, step))

  def eval_batch(self, index: int) -> Batch:
    """Held-out batch `index` in [0, train.eval_batches), from the eval stream."""
    index = int(index)
    if not 0 <= index < self.eval_batches:
      raise IndexError(f'eval_batch: index={index} not in '
                       f'[0, {self.eval_batches}) (train.eval_batches)')
    return rows_to_batch(self._rows(_EVAL, index))

  def _rng(self, split: int, index: int) -> np.random.Generator:
    return np.random.default_rng([self.seed, split, index])

  def _rows(self, split: int, index: int) -> np.ndarray:
    """Returns int32 token rows [B, T+1] of one batch."""
    raise NotImplementedError

  def __repr__(self) -> str:
    return (f'{type(self).__name__}(name={self.name!r}, '
            f'vocab_size={self.vocab_size}, pack={self.pack})')


def _pad_rows(docs: list[np.ndarray], length: int) -> np.ndarray:
  """Truncates/pads token documents into int32 rows [len(docs), length]."""
  rows = np.full((len(docs), length), PAD, dtype=np.int32)
  for r, doc in enumerate(docs):
    n = min(len(doc), length)
    rows[r, :n] = doc[:n]
  return rows


def _entropy(probs_NxV: np.ndarray) -> np.ndarray:
  """Row entropies in nats, 0 log 0 = 0."""
  logs = np.log(np.where(probs_NxV > 0, probs_NxV, 1.0))
  return -(probs_NxV * logs).sum(-1)


# ----------------------------------------------------------------- synthetic


class SyntheticSource(DataSource):
  """Seeded order-k Markov language with geometric document lengths.

  States of the token process: context 0 is the start of a document (history
  all BOS); then for order 1 one context per last symbol, for order 2 one per
  (BOS, a) and per (a, b); plus EOS (next is BOS when packed, PAD when not)
  and PAD. `next_probs[state]` is the full next-token distribution and
  `next_state[state, token]` the transition, so generation, the exact
  entropy and `log_probs` all share one table.
  """

  def __init__(self, *, num_symbols: int, order: int, mean_doc_len: float,
               concentration: float, **kwargs):
    super().__init__(**kwargs)
    s = self.num_symbols = num_symbols
    self.order = order
    self.eos_prob = q = 1.0 / mean_doc_len
    self.vocab_size = s + NUM_SPECIAL
    self.name = 'synthetic'
    num_contexts = 1 + s if order == 1 else 1 + s + s * s
    self.eos_state, self.pad_state = num_contexts, num_contexts + 1
    n, v = num_contexts + 2, self.vocab_size

    rng = np.random.default_rng([self.seed, _LANGUAGE, 0])
    rows_CxS = rng.dirichlet(np.full(s, concentration), size=num_contexts)
    if not np.all(np.isfinite(rows_CxS)):
      raise ConfigError(f'data.concentration={concentration} is too small '
                        '(Dirichlet rows underflow); use >= 0.01')
    self.symbol_probs = rows_CxS

    probs_NxV = np.zeros((n, v))
    probs_NxV[0, NUM_SPECIAL:] = rows_CxS[0]   # a document has >= 1 symbol
    probs_NxV[1:num_contexts, EOS] = q
    probs_NxV[1:num_contexts, NUM_SPECIAL:] = (1 - q) * rows_CxS[1:]
    probs_NxV[self.eos_state, BOS if self.pack else PAD] = 1.0
    probs_NxV[self.pad_state, PAD] = 1.0
    self.next_probs = probs_NxV
    cdf_NxV = np.cumsum(probs_NxV, axis=1)
    self._cdf_NxV = cdf_NxV / cdf_NxV[:, -1:]   # last entry exactly 1

    # last_symbol[state]: the symbol just emitted, -1 for start/EOS/PAD.
    last_symbol = np.full(n, -1)
    if order == 1:
      last_symbol[1:num_contexts] = np.arange(s)
    else:
      last_symbol[1:1 + s] = np.arange(s)
      last_symbol[1 + s:num_contexts] = np.arange(s * s) % s
    symbols = np.arange(s)[None, :]
    next_state_NxV = np.zeros((n, v), dtype=np.int64)
    next_state_NxV[:, PAD] = self.pad_state
    next_state_NxV[:, BOS] = 0
    next_state_NxV[:, EOS] = self.eos_state
    if order == 1:
      next_state_NxV[:, NUM_SPECIAL:] = 1 + symbols
    else:
      last = last_symbol[:, None]
      next_state_NxV[:, NUM_SPECIAL:] = np.where(
          last < 0, 1 + symbols, 1 + s + last * s + symbols)
    self.next_state = next_state_NxV
    self._last_token = np.where(last_symbol >= 0, last_symbol + NUM_SPECIAL,
                                PAD).astype(np.int32)
    self._last_token[0] = BOS
    self._last_token[self.eos_state] = EOS

    self.stationary = self._stationary_distribution()
    pi_cdf = np.cumsum(self.stationary)
    self._pi_cdf = pi_cdf / pi_cdf[-1]
    self.entropy_rate = float(self.stationary @ _entropy(self._packed_probs()))
    self.entropy_floor = (self.entropy_rate if self.pack
                          else self._padded_floor())

  def _packed_probs(self) -> np.ndarray:
    probs_NxV = self.next_probs.copy()
    probs_NxV[self.eos_state] = 0.0
    probs_NxV[self.eos_state, BOS] = 1.0
    return probs_NxV

  def _step_distribution(self, dist_N: np.ndarray,
                         probs_NxV: np.ndarray) -> np.ndarray:
    """One step of the chain on a distribution over states (vectorised)."""
    return np.bincount(self.next_state.ravel(),
                       weights=(dist_N[:, None] * probs_NxV).ravel(),
                       minlength=len(dist_N))

  def _stationary_distribution(self, tol: float = 1e-13,
                               max_iters: int = 200_000) -> np.ndarray:
    """Power iteration for the packed stream's stationary state distribution.

    The chain restarts at every BOS and document lengths take every value
    >= 1, so it is aperiodic on its reachable states and this converges.
    """
    probs_NxV = self._packed_probs()
    dist_N = np.zeros(len(probs_NxV))
    dist_N[0] = 1.0 / (2 + 1.0 / self.eos_prob)  # exact mass of the BOS state
    dist_N[1:self.eos_state] = (1 - 2 * dist_N[0]) / (self.eos_state - 1)
    dist_N[self.eos_state] = dist_N[0]
    for _ in range(max_iters):
      new_N = self._step_distribution(dist_N, probs_NxV)
      if np.abs(new_N - dist_N).sum() < tol:
        return new_N / new_N.sum()
      dist_N = new_N
    raise RuntimeError('synthetic: stationary distribution did not converge')

  def _padded_floor(self) -> float:
    """Best mean loss over loss_mask with one `BOS doc EOS` per padded row."""
    dist_N = np.zeros(len(self.next_probs))
    dist_N[0] = 1.0
    entropy_N = _entropy(self.next_probs)
    counted_N = np.arange(len(dist_N)) < self.eos_state  # target is not PAD
    total_entropy = total_count = 0.0
    for _ in range(self.seq_len):
      total_entropy += dist_N @ (entropy_N * counted_N)
      total_count += dist_N @ counted_N
      dist_N = self._step_distribution(dist_N, self.next_probs)
    return float(total_entropy / total_count)

  def _rows(self, split: int, index: int) -> np.ndarray:
    """Samples B rows by inverse CDF, vectorised over rows, looping over time.

    Packed rows start in a state drawn from the stationary distribution (so
    every position is statistically alike); padded rows start at BOS.
    """
    rng = self._rng(split, index)
    b, t = self.batch_size, self.seq_len
    if self.pack:
      state_B = np.minimum(np.searchsorted(self._pi_cdf, rng.random(b), 'right'),
                           len(self._pi_cdf) - 1)
    else:
      state_B = np.zeros(b, dtype=np.int64)
    uniform_TxB = rng.random((t, b))
    rows_BxL = np.empty((b, t + 1), dtype=np.int32)
    rows_BxL[:, 0] = self._last_token[state_B]
    cdf_NxV, next_state_NxV = self._cdf_NxV, self.next_state
    for i in range(t):
      token_B = (cdf_NxV[state_B] <= uniform_TxB[i, :, None]).sum(axis=1)
      rows_BxL[:, i + 1] = token_B
      state_B = next_state_NxV[state_B, token_B]
    return rows_BxL

  def log_probs(self, batch: Batch) -> np.ndarray:
    """True-model log p(target | history) [B, T]; NaN where the row lacks history.

    Only order 2 packed rows lose history: the first position when it is a
    symbol (its predecessor was cut off).
    """
    inputs_BxT, targets_BxT = batch['inputs'], batch['targets']
    s = self.num_symbols
    symbol_BxT = inputs_BxT.astype(np.int64) - NUM_SPECIAL
    is_symbol_BxT = symbol_BxT >= 0
    state_BxT = np.select(
        [inputs_BxT == BOS, inputs_BxT == EOS, inputs_BxT == PAD],
        [0, self.eos_state, self.pad_state], default=1 + symbol_BxT)
    known_BxT = np.ones(inputs_BxT.shape, dtype=bool)
    if self.order == 2:
      prev_BxT = np.concatenate(
          [np.full_like(symbol_BxT[:, :1], -NUM_SPECIAL - 1), symbol_BxT[:, :-1]],
          axis=1)
      pair_BxT = 1 + s + np.maximum(prev_BxT, 0) * s + symbol_BxT
      state_BxT = np.where(is_symbol_BxT & (prev_BxT >= 0), pair_BxT, state_BxT)
      known_BxT[:, 0] = ~is_symbol_BxT[:, 0]
    probs_BxT = self.next_probs[np.where(known_BxT, state_BxT, 0), targets_BxT]
    with np.errstate(divide='ignore'):
      return np.where(known_BxT, np.log(probs_BxT), np.nan)


# ---------------------------------------------------------------------- text


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
  """Byte-level LM on a local UTF-8 file (token = byte + 3).

  Packed rows are random windows of the split's bytes; padded rows are one
  paragraph (blank-line separated) each, as `BOS bytes EOS`.
  """

  def __init__(self, *, data: bytes, name: str, path: str, **kwargs):
    super().__init__(**kwargs)
    self.vocab_size = BYTE_VOCAB_SIZE
    self.name = name
    need = self.seq_len + 1
    cut = int(len(data) * TRAIN_FRACTION)
    parts = {_TRAIN: data[:cut], _EVAL: data[cut:]}
    for split, what in ((_TRAIN, 'train split (first 90%)'),
                        (_EVAL, 'eval split (last 10%)')):
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
          raise ConfigError(f'data.path={path!r}: the {_SPLIT_NAMES[split]} '
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
  """The English reference prose CPython ships (`pydoc_data.topics`, ~465 kB).

  Offline on every machine with Python; topics in sorted order, one per
  paragraph block. The text differs slightly between Python versions.
  """
  from pydoc_data import topics
  return '\n\n'.join(topics.topics[k].strip() for k in sorted(topics.topics)).encode()


# ---------------------------------------------------------------------- tfds


def _tfds_dir(tfds: Any, data_dir: str) -> str:
  return data_dir or tfds.core.constants.DATA_DIR


def _tfds_open_error(tfds: Any, name: str, data_dir: str, download: bool,
                     split: str, error: Exception) -> ConfigError:
  """Says 'not prepared' when it is so, else which split failed and why."""
  where = _tfds_dir(tfds, data_dir)
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


def _open_tfds(name: str, data_dir: str, download: bool):
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
  for i, split in enumerate(candidates):
    try:
      return train, open_split(split)
    except ConfigError:
      if i == len(candidates) - 1:
        raise
  raise AssertionError('unreachable')


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

  Documents are records, visited in a seeded per-epoch permutation: row j of
  the split's stream is built on document perm[j mod N]. Padded rows hold that
  document alone. Packed rows start at a random offset inside it and continue
  with uniformly drawn documents (not perm[j+1], which would repeat most of
  row j+1 when documents are shorter than a row). A single long record (as in
  tiny_shakespeare) thus gives random windows when packed.
  """

  _CACHE_BYTES = 64 << 20  # tokenised documents kept in memory
  _BATCHED_READ = 16       # fewer missing records are read one by one
  _FOLLOW_BLOCK = 16       # continuation documents drawn per row at a time

  def __init__(self, *, tfds_name: str, data_dir: str, download: bool,
               records: tuple[Any, Any] | None = None, **kwargs):
    super().__init__(**kwargs)
    self.vocab_size = BYTE_VOCAB_SIZE
    if not tfds_name:
      raise ConfigError("data.tfds_name is empty; data.source='tfds' needs a "
                        "dataset name, e.g. 'lm1b' or 'tiny_shakespeare'")
    self.name = f'tfds:{tfds_name}'
    train, evaluation = records or _open_tfds(tfds_name, data_dir, download)
    self._records = {_TRAIN: train, _EVAL: evaluation}
    for split, source in self._records.items():
      if not len(source):
        raise ConfigError(f'data.tfds_name={tfds_name!r}: the '
                          f'{_SPLIT_NAMES[split]} split has no records')
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
      return _pad_rows(first_docs, length)
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


# ------------------------------------------------------------------- factory


def _require(ok: bool, message: str) -> None:
  if not ok:
    raise ConfigError(message)


def make_source(cfg) -> DataSource:
  """Builds the data source of `cfg.data` for train.batch_size x train.seq_len."""
  d, t = cfg.data, cfg.train
  for key, value in (('train.batch_size', t.batch_size),
                     ('train.seq_len', t.seq_len),
                     ('train.eval_batches', t.eval_batches)):
    _require(isinstance(value, int) and value > 0, f'{key}={value} must be > 0')
  _require(isinstance(d.seed, int) and d.seed >= 0,
           f'data.seed={d.seed} must be an int >= 0')
  common = dict(batch_size=t.batch_size, seq_len=t.seq_len, seed=d.seed,
                eval_batches=t.eval_batches, pack=bool(d.pack))
  if d.source == 'synthetic':
    _require(d.order in (1, 2), f'data.order={d.order} is not one of: 1, 2')
    _require(d.num_symbols >= 1, f'data.num_symbols={d.num_symbols} must be >= 1')
    _require(d.mean_doc_len >= 1,
             f'data.mean_doc_len={d.mean_doc_len} must be >= 1')
    _require(d.concentration > 0,
             f'data.concentration={d.concentration} must be > 0')
    table = d.num_symbols ** (d.order + 1)
    _require(table <= 2**22,
             f'data.num_symbols={d.num_symbols} with data.order={d.order} needs '
             f'a {table:,}-entry transition table; keep num_symbols**(order+1) '
             f'<= {2**22:,}')
    return SyntheticSource(num_symbols=d.num_symbols, order=d.order,
                           mean_doc_len=float(d.mean_doc_len),
                           concentration=float(d.concentration), **common)
  if d.source in ('text', 'python_docs'):
    _require(d.max_bytes >= 0, f'data.max_bytes={d.max_bytes} must be >= 0')
    if d.source == 'text':
      data, name = read_text_file(d.path), f'text:{os.path.basename(d.path)}'
    else:
      data, name = python_docs(), 'python_docs'
    if d.max_bytes:
      data, name = data[:d.max_bytes], f'{name}[:{d.max_bytes}]'
    return TextSource(data=data, name=name, path=d.path or name, **common)
  if d.source == 'digits' or (d.source == 'tfds' and cfg.model.arch == 'cnn'):
    from lnexp import images  # pylint: disable=g-import-not-at-top
    return (images.digits(**common) if d.source == 'digits' else
            images.tfds_images(d.tfds_name, d.tfds_data_dir, bool(d.tfds_download),
                               **common))
  if d.source == 'tfds':
    return TfdsSource(tfds_name=d.tfds_name, data_dir=d.tfds_data_dir,
                      download=bool(d.tfds_download), **common)
  raise ConfigError(f'data.source={d.source!r} is not one of: synthetic, text, '
                    'python_docs, tfds, digits')
