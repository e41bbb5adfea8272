"""lnexp.claims.scoring: the three pre-registered scorings of LR sensitivity on
hand-made tables, and the verdict they make together (fragile when they differ)."""
import math

import pandas as pd
import pytest

from lnexp.analysis import sensitivity
from lnexp.claims import evidence as ev
from lnexp.claims import scoring, stats

# Bytes: ln V = ln 256 = 5.545177; unigram entropy H = 3.3; no floor, so a run
# is collapsed at loss >= H - 0.1 H = 2.97. Grid step 0.5 decades.
LN_V, H = math.log(256), 3.3
LRS = (1e-3, 10 ** -2.5, 1e-2, 10 ** -1.5)
SEEDS = {'0': 0.0, '1': 0.02, '2': 0.04}  # each seed shifts every finished loss


def _frame(curve):
  """One variant's rows: per LR a loss, 'div' (diverged) or (loss, 'collapsed')."""
  rows = []
  for seed, shift in SEEDS.items():
    for lr, point in zip(LRS, curve):
      collapsed = isinstance(point, tuple)
      loss = None if point == 'div' else (point[0] if collapsed else point) + shift
      rows.append({'seed': seed, 'optim.lr': lr, 'final_eval_loss': loss,
                   'status': 'diverged' if loss is None else 'ok',
                   'collapsed': None if loss is None else collapsed,
                   'vocab_size': 256, 'unigram_entropy': H})
  return ev.add_labels(pd.DataFrame(rows))


def test_stable_lrs_and_grid_step_by_hand():
  # best trained 2.2; 2.25 and 2.29 within 0.1; 2.31 not; a collapsed 2.2 never.
  assert sensitivity.stable_lrs([2.25, 2.2, 2.31, 2.29, 2.2, None],
                                [False, False, False, False, True, True]) == 3
  assert sensitivity.stable_lrs([3.0, None], [True, True]) == 0  # nothing trains
  assert sensitivity.grid_step([3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]) == \
      pytest.approx(0.5)
  assert sensitivity.grid_step(LRS) == pytest.approx(0.5)
  # The unigram entropy as the reference a failure counts at:
  # (2.2 + 2.4 + 3.3 + 3.3) / 4 - 2.2 = 0.6.
  s = sensitivity.lr_sensitivity(LRS, [2.2, 2.4, None, 2.5], 256,
                                 diverged=[False, False, True, True], reference=H)
  assert s.common == pytest.approx(0.6) and s.reference == H


def test_scorings_that_agree_give_their_verdict():
  """No norm collapses at the lowest LR and diverges at the two highest; post-LN
  trains at all four, three of them within 0.1 nats of its best."""
  none = scoring.scores(_frame([(3.0, 'collapsed'), 2.2, 'div', 'div']))
  ln = scoring.scores(_frame([2.25, 2.2, 2.28, 2.6]))
  for seed, shift in SEEDS.items():
    # none: three failures and its best 2.2 + shift:
    # at ln V (3 x 5.545177 + 2.2 + s) / 4 - (2.2 + s) = 2.508883 - 0.75 s
    assert none.at_ln_v[seed] == pytest.approx(2.508883 - 0.75 * shift, abs=1e-6)
    # at H (3 x 3.3 + 2.2 + s) / 4 - (2.2 + s) = 0.825 - 0.75 s
    assert none.at_unigram[seed] == pytest.approx(0.825 - 0.75 * shift)
    # post-LN, no failure: (0.05 + 0 + 0.08 + 0.4) / 4 = 0.1325 under both
    assert ln.at_ln_v[seed] == ln.at_unigram[seed] == pytest.approx(0.1325)
    assert (none.stable_lrs[seed], ln.stable_lrs[seed]) == (1, 3)
    assert (none.stable_decades[seed], ln.stable_decades[seed]) == \
        (pytest.approx(0.5), pytest.approx(1.5))
  robust = scoring.compare('topics: none vs layernorm-post', none, ln, 0.05, 0.5)
  assert [c.outcome for c in robust.comparisons] == ['supported'] * 3
  assert robust.outcome == 'supported'
  # d at ln V per seed 2.376383 - 0.75 s: mean 2.361383, sd 0.015
  d = robust.comparisons[0].interval
  assert d.mean == pytest.approx(2.361383, abs=1e-6) and d.sd == pytest.approx(0.015)
  stable = robust.comparisons[2]
  assert stable.interval.mean == 2 and 'in decades +1.000 [+1.000, +1.000] (n=3)' in \
      stable.note
  # In a family (Holm): supported needs all three, so its p is their largest.
  assert robust.p == max(c.p for c in robust.comparisons) < 0.05
  assert ev.family([robust])[0].outcome == 'supported'


def test_scorings_that_disagree_are_fragile_and_the_table_shows_all_three():
  """No norm's curve is wide but its highest LR diverges; post-LN never fails
  but only its best LR is within 0.1 nats. At ln V the divergence makes no norm
  the more sensitive (supported), at H they tie (no effect), counted in
  stable LRs no norm is the steadier (contradicted): fragile."""
  none = scoring.scores(_frame([2.25, 2.2, 2.22, 'div']))
  ln = scoring.scores(_frame([2.6, 2.2, 2.65, 2.62]))
  for seed, shift in SEEDS.items():
    # none: (2.25 + 2.2 + 2.22 + 3 s + 5.545177) / 4 - (2.2 + s) = 0.853794 - s / 4
    assert none.at_ln_v[seed] == pytest.approx(0.853794 - shift / 4, abs=1e-6)
    # at H: (6.67 + 3 s + 3.3) / 4 - (2.2 + s) = 0.2925 - s / 4
    assert none.at_unigram[seed] == pytest.approx(0.2925 - shift / 4)
    # post-LN: (0.4 + 0 + 0.45 + 0.42) / 4 = 0.3175
    assert ln.at_ln_v[seed] == pytest.approx(0.3175)
    assert (none.stable_lrs[seed], ln.stable_lrs[seed]) == (3, 1)
  robust = scoring.compare('python_docs: none vs layernorm-post', none, ln, 0.05, 0.5)
  at_ln_v, at_h, stable = robust.comparisons
  # at ln V d = 0.536294 - s / 4: [0.536294, 0.531294, 0.526294], sd 0.005
  assert at_ln_v.interval.mean == pytest.approx(0.531294, abs=1e-6)
  assert at_ln_v.outcome == 'supported'
  # at H d = -0.025 - s / 4: mean -0.03, half-width 4.303 x 0.005 / sqrt(3) = 0.01242
  assert at_h.interval.mean == pytest.approx(-0.03)
  assert at_h.interval.low == pytest.approx(-0.04242, abs=1e-4)
  assert at_h.interval.high == pytest.approx(-0.01758, abs=1e-4)
  assert at_h.outcome == 'no effect'
  assert stable.interval.mean == -2 and stable.outcome == 'contradicted'
  assert robust.outcome == scoring.FRAGILE and robust.p == 1.0
  table = ev.comparisons_table('caption', [robust])
  assert '| python_docs: none vs layernorm-post: LR sensitivity, failures at ln V | ' \
         '+0.531 [' in table
  assert '| python_docs: none vs layernorm-post: LR sensitivity, failures at the ' \
         'unigram entropy | -0.030 [-0.042, -0.018] (n=3) | 0.05 | **no effect** |' in table
  assert '| python_docs: none vs layernorm-post: stable LRs (within 0.1 nats of the ' \
         'best) | -2.000 [-2.000, -2.000] (n=3) | 0.5 | **contradicted** (in decades ' \
         '-1.000 [-1.000, -1.000] (n=3)) |' in table
  assert '| python_docs: none vs layernorm-post: all three scorings | - | - | ' \
         '**fragile** |' in table
  # A rule of several comparisons: fragile ones make it mixed, like any other.
  assert ev.combine([robust.outcome, 'supported']) == 'mixed'


def test_an_edge_or_a_missing_seed_makes_every_scoring_inconclusive():
  none = scoring.scores(_frame([(3.0, 'collapsed'), 2.2, 'div', 'div']))
  ln = scoring.scores(_frame([2.25, 2.2, 2.28, 2.6]))
  robust = scoring.compare('x', none, ln, 0.05, 0.5, edge='lowest of 0.001..0.03')
  assert robust.outcome == 'inconclusive'
  assert all('would be supported' in c.note for c in robust.comparisons)
  # A variant that trains at no LR has no sensitivity but 0 stable LRs.
  dead = scoring.scores(_frame(['div'] * 4))
  assert math.isnan(dead.at_ln_v['0']) and dead.stable_lrs['0'] == 0
  robust = scoring.compare('x', dead, ln, 0.05, 0.5)
  assert [c.outcome for c in robust.comparisons] == [
      'inconclusive', 'inconclusive', 'supported']
  assert robust.outcome == scoring.FRAGILE
  assert stats.p_value(robust.comparisons[0].interval, 0.05) == 1.0


def test_one_seeds_sweep_has_one_vocabulary():
  frame = _frame([2.25, 2.2, 2.28, 2.6])
  frame.loc[0, 'vocab_size'] = 35
  with pytest.raises(ValueError, match='vocab_size'):
    scoring.scores(frame)
