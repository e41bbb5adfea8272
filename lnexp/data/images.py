"""Image classification sources: scikit-learn's 8x8 digits (TFDS ones: lnexp.data.tfds).

The language-model batch keys: inputs float32 [B, H, W, C] in [0, 1], targets
int32 [B, 1] (the class), all-ones masks. Eval batches are fixed slices of the
test split.
"""
from __future__ import annotations

import numpy as np

from lnexp.data.base import TRAIN, Batch, DataSource
from lnexp.errors import ConfigError

DIGITS_TRAIN_FRACTION = 0.8


def image_batch(images_BxHxWxC: np.ndarray, labels_B: np.ndarray) -> Batch:
  b = len(labels_B)
  ones = np.ones((b, 1), np.float32)
  return {'inputs': np.ascontiguousarray(images_BxHxWxC, np.float32),
          'targets': np.asarray(labels_B, np.int32)[:, None],
          'input_mask': ones, 'loss_mask': ones.copy(),
          'segment_ids': np.ones((b, 1), np.int32)}


class ImageSource(DataSource):
  """Arrays in memory: train/test images [N, H, W, C] float32 and labels [N]."""

  def __init__(self, *, name: str, train, test, num_classes: int, **kwargs):
    super().__init__(**kwargs)
    self.name, self.vocab_size = name, num_classes
    self._train, self._test = train, test
    need = self.batch_size * self.eval_batches
    if len(test[1]) < self.batch_size:
      raise ConfigError(f'data.source={name!r}: the test split has {len(test[1])} '
                        f'images, fewer than train.batch_size={self.batch_size}')
    self._eval_starts = np.arange(self.eval_batches) * self.batch_size % max(
        len(test[1]) - self.batch_size + 1, 1) if need else np.zeros(0, int)

  @property
  def image_shape(self) -> tuple[int, ...]:
    return self._train[0].shape[1:]

  def _batch(self, split: int, index: int) -> Batch:
    if split == TRAIN:
      pick = self._rng(TRAIN, index).integers(0, len(self._train[1]), self.batch_size)
      return image_batch(self._train[0][pick], self._train[1][pick])
    start = self._eval_starts[index]
    images, labels = self._test
    return image_batch(images[start:start + self.batch_size],
                       labels[start:start + self.batch_size])


def digits(**kwargs) -> ImageSource:
  """scikit-learn's 1,797 8x8 handwritten digits, shipped inside the package."""
  try:
    from sklearn.datasets import load_digits
  except ImportError:
    raise ConfigError("data.source='digits' needs scikit-learn: pip install -e "
                      "'.[images]'") from None
  bunch = load_digits()
  images = (bunch.images / 16.0).astype(np.float32)[..., None]
  order = np.random.default_rng(0).permutation(len(images))  # the fixed split
  cut = int(len(images) * DIGITS_TRAIN_FRACTION)
  train, test = order[:cut], order[cut:]
  return ImageSource(name='digits', train=(images[train], bunch.target[train]),
                     test=(images[test], bunch.target[test]), num_classes=10, **kwargs)


def make_digits(cfg, **common) -> ImageSource:
  return digits(**common)
