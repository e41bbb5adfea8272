"""The learned-regime criteria of claims v4 on rows shaped like the pilots'."""
import json

import pytest

from lnexp.claims import regime as regime_lib
from lnexp.claims.regime import closed_at_best, doubling, gap_closed, regime, scale_note

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
  # Off topics (no floors) only saturation applies: claim 9's CNN pilot, LayerNorm at 1e-2.
  cnn = regime({'final_eval_loss': 0.109, 'bayes_loss': None}, {'final_eval_loss': 0.065})
  assert cnn.closed is None and cnn.learned and cnn.gain == pytest.approx(0.044)


def _pilot_rows():
  """Two LRs at 2,000 and 4,000 steps (eval cadence swept with the length), one
  LR at 2,000 only; numbers from docs/claims-v4-pilots.md section 7."""
  run = lambda lr, steps, loss: {'optim.lr': lr, 'train.steps': steps,  # noqa: E731
                                 'train.eval_every': steps, 'final_eval_loss': loss,
                                 'status': 'ok', 'steps': steps, **FLOORS}
  return [run(1e-2, 4000, 3.512), run(3e-3, 2000, 2.595), run(3e-3, 4000, 2.574),
          run(1e-2, 2000, 3.512), run(1e-3, 2000, 2.70)]


def test_each_run_is_paired_with_its_twin_at_twice_the_steps():
  pairs = [(r['optim.lr'], r['train.steps'], g) for r, g in doubling(_pilot_rows())]
  assert [(lr, steps) for lr, steps, _ in pairs] == [  # by swept values, then steps
      (1e-3, 2000), (3e-3, 2000), (3e-3, 4000), (1e-2, 2000), (1e-2, 4000)]
  gains = {(lr, steps): g.gain for lr, steps, g in pairs}
  assert gains[3e-3, 2000] == pytest.approx(2.595 - 2.574)  # 0.021: learned
  assert gains[1e-2, 2000] == 0 and gains[1e-3, 2000] is None and gains[3e-3, 4000] is None
  learned = {(lr, steps) for lr, steps, g in pairs if g.learned}
  assert learned == {(3e-3, 2000)}  # 1e-2 is saturated but collapsed: -73% closed


def test_the_pilot_table_from_a_workdir(tmp_path, capsys):
  (tmp_path / 'results.jsonl').write_text(
      ''.join(json.dumps({'point_id': str(i), **r}) + '\n' for i, r in enumerate(_pilot_rows())))
  assert regime_lib.main([str(tmp_path)]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == ('| optim.lr | steps | final eval loss | gap closed | gain from doubling '
                      '| learned |')
  assert '| 0.003 | 2000 | 2.595 | 92% | 0.021 | yes |' in lines
  assert '| 0.003 | 4000 | 2.574 | 96% | - | - |' in lines
  assert regime_lib.main([str(tmp_path / 'missing')]) == 2
  assert capsys.readouterr().err.count('\n') == 1


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
