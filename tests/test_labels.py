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


def test_the_reports_definition_is_the_rule_the_rows_were_labelled_by():
  """The words REPORT.md prints (labels.definition) state lm_collapsed's and
  classifier_collapsed's thresholds: read back from the text, they label as
  the functions do."""
  import re
  text = labels.definition()
  f = float(re.search(r'loss ≥ H − ([\d.]+) \(H − floor\)', text)[1])
  percent = float(re.search(r'less than ([\d.]+)% of the way', text)[1])
  k = float(re.search(r'at most ([\d.]+) standard errors above chance', text)[1])
  assert percent == pytest.approx(100 * f)
  for h, floor in ((3.0, 2.0), (3.5, None), (5.5, 1.2)):
    at = h - f * (h - (floor or 0.0))  # the threshold the text states
    assert labels.lm_collapsed(at + 1e-9, h, floor) and not labels.lm_collapsed(
        at - 1e-9, h, floor)
  se = math.sqrt(0.1 * 0.9 / 400)
  assert labels.classifier_collapsed(0.1 + k * se - 1e-9, 10, 400)
  assert not labels.classifier_collapsed(0.1 + k * se + 1e-9, 10, 400)


def test_the_definition_follows_the_constants(monkeypatch):
  monkeypatch.setattr(labels, 'LEARNED_FRACTION', 0.25)
  monkeypatch.setattr(labels, 'CHANCE_STANDARD_ERRORS', 3)
  text = labels.definition()
  assert 'H − 0.25 (H − floor)' in text and 'less than 25% of the way' in text
  assert 'at most 3 standard errors above chance' in text
  assert labels.lm_collapsed(2.75, 3.0, 2.0) and not labels.lm_collapsed(2.74, 3.0, 2.0)
