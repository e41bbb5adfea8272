"""Eval loss by position in the document (lnexp.measure.positions)."""
import numpy as np
import pytest

from lnexp.data import make_source
from lnexp.data.base import BOS, EOS, PAD
from lnexp.measure import positions
from tests.conftest import tiny_config


def test_positions_count_document_tokens_since_bos_and_skip_a_rows_first_fragment():
  a, b = 5, 6  # symbols
  inputs = np.array([[a, b, EOS, BOS, a, a, b, EOS],
                     [BOS, a, EOS, BOS, b, EOS, PAD, PAD]])
  np.testing.assert_array_equal(positions.document_positions(inputs),
                                [[-1, -1, -1, 0, 1, 2, 3, 4], [0, 1, 2, 0, 1, 2, 3, 4]])
  losses = np.arange(16, dtype=float).reshape(1, 2, 8)
  mask = np.ones((1, 2, 8))
  mask[0, 1, 6:] = 0  # PAD targets
  count, mean = positions.by_position(losses, positions.document_positions(inputs)[None],
                                      mask, 8)
  assert count == [3, 3, 3, 1, 1, 0, 0, 0]
  assert mean[:5] == [(3 + 8 + 11) / 3, (4 + 9 + 12) / 3, (5 + 10 + 13) / 3, 6.0, 7.0]
  assert mean[5:] == [None] * 3


def test_topics_references_by_position_average_to_its_floors():
  """Weighted by their counts, the per-position Bayes and previous-token losses
  are the eval set's floors restricted to targets with a known position; on
  padded rows (every row starts at BOS) those are all targets."""
  cfg = tiny_config(**{'data.source': 'topics', 'model.vocab_size': -1, 'data.pack': False,
                       'train.seq_len': 16,
                       'train.eval_batches': 2})
  source = make_source(cfg)
  batches = [source.eval_batch(i) for i in range(2)]
  refs = positions.reference_losses(source, batches)
  count = np.asarray(refs['position_count'])
  assert count.sum() == sum(b['loss_mask'].sum() for b in batches)
  for key, floor in (('position_bayes_loss', source.entropy_floor),
                     ('position_context_free_loss', source.context_free_loss)):
    values = np.asarray([0.0 if v is None else v for v in refs[key]])
    assert (values * count).sum() / count.sum() == pytest.approx(floor, rel=1e-9)
