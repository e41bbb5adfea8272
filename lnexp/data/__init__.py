"""Data sources (`data.source`): the `SOURCES` registry and `make_source`.

Adding a source is one module (a DataSource, a `make(cfg, **common)` builder,
optionally a `check` of its keys) and one line here; `base` has the batch layout.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from lnexp.data import images, synthetic, text, tfds, topics
from lnexp.data.base import DataSource
from lnexp.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Source:
  """make(cfg, **common) -> DataSource; check(cfg.data): ConfigError for values it
  cannot use; images: yields images (True), tokens (False) or either (None)."""
  make: Callable
  check: Callable = lambda d: None
  images: bool | None = False


SOURCES: dict[str, Source] = {
    'synthetic': Source(synthetic.make, synthetic.check),
    'topics': Source(topics.make, topics.check),
    'text': Source(text.make),
    'python_docs': Source(text.make),
    'tfds': Source(tfds.make, tfds.check, images=None),
    'digits': Source(images.make_digits, images=True),
}


def make_source(cfg) -> DataSource:
  """The source of a validated config; ConfigError where the data cannot be read
  or holds more tokens (or classes) than a set model.vocab_size."""
  d, t, m = cfg.data, cfg.train, cfg.model
  source = SOURCES[d.source].make(cfg, batch_size=t.batch_size, seq_len=t.seq_len,
                                  seed=d.seed, eval_batches=t.eval_batches,
                                  pack=bool(d.pack))
  if 0 < m.vocab_size < source.vocab_size:
    raise ConfigError(f'model.vocab_size={m.vocab_size} is smaller than the '
                      f'{source.vocab_size} tokens of data.source={d.source!r} '
                      f'({source.name}); use -1 (the data\'s) or >= {source.vocab_size}')
  return source
