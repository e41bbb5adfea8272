"""Run labels: collapsed (finished but did not learn), by hand."""
import math

import numpy as np
import pytest

from lnexp.measure import labels


def test_unigram_entropy_of_loss_masked_targets():
  batches = [{'targets': np.array([[3, 3, 4, 0]]), 'loss_mask': np.array([[1, 1, 1, 0]])}] * 2
  p = np.array([2 / 3, 1 / 3])
  assert labels.unigram_entropy(batches) == pytest.approx(-(p * np.log(p)).sum())


def test_language_model_collapsed_within_a_tenth_of_the_way_from_unigram_to_floor():
  # H = 3.0, floor 2.0: collapsed at >= 2.9; text (no floor): at >= 2.7.
  assert labels.lm_collapsed(2.95, 3.0, 2.0) and labels.lm_collapsed(2.9, 3.0, 2.0)
  assert not labels.lm_collapsed(2.89, 3.0, 2.0)
  assert labels.lm_collapsed(2.7, 3.0, None) and not labels.lm_collapsed(2.69, 3.0, None)
  assert labels.lm_collapsed(None, 3.0, None) is None
  assert labels.lm_collapsed(math.nan, 3.0, None) is None


def test_classifier_collapsed_at_chance_plus_two_standard_errors():
  # 10 classes, 400 examples: chance 0.1, SE 0.015 -> collapsed at <= 0.13.
  assert labels.classifier_collapsed(0.13, 10, 400)
  assert not labels.classifier_collapsed(0.131, 10, 400)
  assert labels.classifier_collapsed(None, 10, 400) is None
