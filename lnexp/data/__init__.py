"""Data sources, each batch a pure function of (data.seed, split, index).

`make_source(cfg)` builds the source `data.source` names; see `base` for the
batch layout shared by every source.
"""
from __future__ import annotations

import os

from lnexp.data import images
from lnexp.data.base import (
  BOS,
  BYTE_VOCAB_SIZE,
  EOS,
  NUM_SPECIAL,
  PAD,
  TRAIN_FRACTION,
  Batch,
  DataSource,
  rows_to_batch,
)
from lnexp.data.synthetic import SyntheticSource
from lnexp.data.text import TextSource, python_docs, read_text_file
from lnexp.data.tfds import TfdsSource
from lnexp.data.topics import TopicSource
from lnexp.errors import ConfigError

__all__ = ['BOS', 'BYTE_VOCAB_SIZE', 'EOS', 'NUM_SPECIAL', 'PAD', 'TRAIN_FRACTION', 'Batch',
           'DataSource', 'SyntheticSource', 'TextSource', 'TfdsSource', 'TopicSource',
           'make_source', 'python_docs', 'read_text_file', 'rows_to_batch']


def _require(ok: bool, message: str) -> None:
  if not ok:
    raise ConfigError(message)


def _check_markov(d) -> None:
  """The keys the synthetic and topics sources share."""
  _require(d.num_symbols >= 1, f'data.num_symbols={d.num_symbols} must be >= 1')
  _require(d.mean_doc_len >= 1, f'data.mean_doc_len={d.mean_doc_len} must be >= 1')
  _require(d.concentration > 0, f'data.concentration={d.concentration} must be > 0')


def _check_table(entries: int, keys: str, formula: str) -> None:
  _require(entries <= 2**22, f'{keys} needs a {entries:,}-entry transition table; keep '
           f'{formula} <= {2**22:,}')


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
    _check_markov(d)
    _check_table(d.num_symbols ** (d.order + 1),
                 f'data.num_symbols={d.num_symbols} with data.order={d.order}',
                 'num_symbols**(order+1)')
    return SyntheticSource(num_symbols=d.num_symbols, order=d.order,
                           mean_doc_len=float(d.mean_doc_len),
                           concentration=float(d.concentration), **common)
  if d.source == 'topics':
    _require(d.order == 1, f'data.order={d.order}: data.source=topics is order 1 '
             '(one order-1 chain per topic)')
    _require(d.num_topics >= 1, f'data.num_topics={d.num_topics} must be >= 1')
    _check_markov(d)
    _check_table(d.num_topics * (d.num_symbols + 1) * d.num_symbols,
                 f'data.num_topics={d.num_topics} x data.num_symbols={d.num_symbols}',
                 'num_topics * (num_symbols + 1) * num_symbols')
    return TopicSource(num_topics=d.num_topics, num_symbols=d.num_symbols,
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
    return (images.digits(**common) if d.source == 'digits' else
            images.tfds_images(d.tfds_name, d.tfds_data_dir, bool(d.tfds_download),
                               **common))
  if d.source == 'tfds':
    return TfdsSource(tfds_name=d.tfds_name, data_dir=d.tfds_data_dir,
                      download=bool(d.tfds_download), **common)
  raise ConfigError(f'data.source={d.source!r} is not one of: synthetic, topics, '
                    'text, python_docs, tfds, digits')
