"""The learned-regime criteria of claims v4 on rows shaped like the pilots'."""
import pytest

from lnexp.claims.regime import closed_at_best, gap_closed, regime, scale_note

FLOORS = {'bayes_loss': 2.5495, 'context_free_loss': 3.1070}


def test_gap_closed_by_hand():
  assert gap_closed(3.1070, 2.5495, 3.1070) == 0
  assert gap_closed(2.5495, 2.5495, 3.1070) == 1
  # post-LN at 8e-3, 2,000 steps (docs/claims-v4-pilots.md): 0.5098 / 0.5575
  assert gap_closed(2.5972, 2.5495, 3.1070) == pytest.approx(0.9144, abs=1e-4)


def test_both_criteria_and_either_failing():
  post_ln = regime({'final_eval_loss': 2.5972, **FLOORS}, {'final_eval_loss': 2.5753})
  assert post_ln.learned and post_ln.gain == pytest.approx(0.0219)
  # Pre-LN at 8e-3: 84% closed but doubling gains 0.0535 >= 0.05: not saturated.
  pre_ln = regime({'final_eval_loss': 2.6394, **FLOORS}, {'final_eval_loss': 2.5859})
  assert pre_ln.closed > 0.75 and not pre_ln.learned
  # v3's size: saturated or not, 35% of the gap is early training.
  assert not regime({'final_eval_loss': 2.909, **FLOORS},
                    {'final_eval_loss': 2.899}).learned
  assert not regime({'final_eval_loss': 2.5972, **FLOORS}).learned  # (b) not measured


def test_closed_at_best_counts_failures_at_ln_v_and_names_early_training():
  """Seed mean of the counted loss: (2.5972 + 2.6172) / 2 = 2.6072 closes
  (3.1070 - 2.6072) / 0.5575 = 89.6%; a third seed that diverged (counted at
  ln 35 = 3.5553) pulls the mean to 2.9232: 33.0%, early training."""
  rows = {0: {'loss_or_ln_v': 2.5972, **FLOORS}, 1: {'loss_or_ln_v': 2.6172, **FLOORS}}
  assert closed_at_best(rows) == pytest.approx(0.8965, abs=1e-4)
  assert scale_note('S', [closed_at_best(rows)]) == (
      '', 'S. Post-LN at its best LR closed 90% of the topics context gap.')
  rows[2] = {'loss_or_ln_v': 3.5553, **FLOORS}
  assert closed_at_best(rows) == pytest.approx(0.3296, abs=1e-4)
  assert scale_note('S', [0.9, closed_at_best(rows)])[0] == ' (early training)'
  assert closed_at_best({0: {'loss_or_ln_v': 1.3, 'bayes_loss': float('nan'),
                             'context_free_loss': float('nan')}}) is None
  assert scale_note('S', []) == scale_note('S', [None]) == ('', 'S')
  assert scale_note('S', [0.5], 'LayerNorm')[1].startswith('S. LayerNorm at its best LR closed 50%')
