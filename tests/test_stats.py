"""lnexp.claims.stats and lnexp.analysis.sensitivity against hand computations."""
import math

import pytest

from lnexp.analysis import sensitivity
from lnexp.claims import stats

T_975_2 = 4.303  # Student t, 2 degrees of freedom, two-sided 95% (tables)


def test_paired_interval_by_hand():
  # differences [1, 2, 3]: mean 2, sd 1, half-width t_{0.975,2} / sqrt(3)
  iv = stats.paired_interval([3.0, 5.0, 8.0], [2.0, 3.0, 5.0])
  assert (iv.mean, iv.sd, iv.n, iv.missing) == (pytest.approx(2.0), pytest.approx(1.0), 3, 0)
  half = T_975_2 / math.sqrt(3)
  assert iv.low == pytest.approx(2 - half, abs=1e-3)
  assert iv.high == pytest.approx(2 + half, abs=1e-3)
  assert stats.t_quantile(3) == pytest.approx(T_975_2, abs=5e-4)
  assert stats.t_quantile(2) == pytest.approx(12.706, abs=5e-4)
  assert stats.t_quantile(5) == pytest.approx(2.776, abs=5e-4)


def test_sign_convention_is_x_minus_y_and_mappings_pair_by_seed():
  iv = stats.paired_interval({'0': 1.0, '1': 1.0, '2': 1.0}, {'2': 2.0, '0': 3.0, '1': 4.0})
  # pairs by seed: 1-3, 1-4, 1-2 -> [-2, -3, -1]: mean -2, sd 1
  assert iv.mean == pytest.approx(-2.0) and iv.sd == pytest.approx(1.0)
  assert iv.high == pytest.approx(-2 + T_975_2 / math.sqrt(3), abs=1e-3)
  with pytest.raises(ValueError, match='different lengths'):
    stats.paired_interval([1.0, 2.0], [1.0])


def test_each_outcome_from_a_fabricated_case():
  d = 0.05
  # differences 1.0, 1.1, 0.9: interval [0.75, 1.25] > +delta
  assert stats.outcome(stats.paired_interval([2.0, 2.1, 1.9], [1.0] * 3), d) == 'supported'
  assert stats.outcome(stats.paired_interval([1.0] * 3, [2.0, 2.1, 1.9]), d) == 'contradicted'
  # differences 0.01, -0.01, 0.0: interval [-0.025, 0.025] inside +-0.05
  assert stats.outcome(stats.paired_interval([1.01, 0.99, 1.0], [1.0] * 3), d) == 'no effect'
  # differences 0.0, 0.2, 0.4: interval [-0.30, 0.70] straddles +delta
  assert stats.outcome(stats.paired_interval([1.0, 1.2, 1.4], [1.0] * 3), d) == 'inconclusive'
  # the same tight interval beyond or inside depends on delta
  assert stats.outcome((0.2, 0.3), 0.1) == 'supported'
  assert stats.outcome((0.2, 0.3), 0.5) == 'no effect'
  assert stats.outcome((-0.3, -0.2), 0.5) == 'no effect'
  assert stats.outcome((0.05, 0.3), 0.1) == 'inconclusive'


def test_inconclusive_for_too_few_pairs_and_missing_input():
  one = stats.paired_interval([5.0], [1.0])  # a huge difference, but one seed
  assert one.n == 1 and math.isnan(one.low) and stats.outcome(one, 0.1) == 'inconclusive'
  assert stats.outcome(stats.paired_interval([], []), 0.1) == 'inconclusive'
  for bad in (math.nan, None, math.inf):  # a diverged run given no number
    iv = stats.paired_interval([2.0, 2.1, 1.9, bad], [1.0] * 4)
    assert iv.missing == 1 and stats.outcome(iv, 0.05) == 'inconclusive'
  # a seed present on one side only is missing too
  iv = stats.paired_interval({'0': 2.0, '1': 2.1, '2': 1.9}, {'0': 1.0, '1': 1.0})
  assert iv.missing == 1 and stats.outcome(iv, 0.05) == 'inconclusive'
  assert stats.outcome((math.nan, 1.0), 0.1) == 'inconclusive'
  with pytest.raises(ValueError, match='delta'):
    stats.outcome((0.2, 0.3), -0.1)


def test_heavy_tailed_helpers():
  # log ratios: x/y = e, e^2, e^3 -> differences 1, 2, 3 on log scale
  iv = stats.log_ratio_interval([math.e, math.e ** 2, math.e ** 3], [1.0, 1.0, 1.0])
  assert iv.mean == pytest.approx(2.0) and iv.sd == pytest.approx(1.0)
  assert iv.low == pytest.approx(2 - T_975_2 / math.sqrt(3), abs=1e-3)
  # a ratio of 100 and of 1/100 cancel on log scale (they would not in a mean)
  assert stats.log_ratio_interval([100.0, 0.01], [1.0, 1.0]).mean == pytest.approx(0.0)
  assert stats.log_ratio_interval([1.0, -1.0], [1.0, 1.0]).missing == 1
  s = stats.median_iqr([1.0, 2.0, 3.0, 4.0, 1000.0, math.nan])
  assert (s.median, s.q25, s.q75, s.n, s.missing) == (3.0, 2.0, 4.0, 5, 1)
  assert stats.median_iqr([None]).n == 0


V = 35  # ln 35 = 3.5553


def test_common_reference_sensitivity_by_hand():
  lrs = [1e-3, 1e-2, 1e-1, 1.0]
  losses = [3.0, 2.0, 2.05, None]  # the LR 1 run diverged
  init = [4.0, 4.0, 4.0, 7.0]      # a bad init: its own L0 is 7
  s = sensitivity.lr_sensitivity(lrs, losses, V, init)
  ln_v = math.log(V)
  # common: mean(3.0, 2.0, 2.05, ln V) - 2.0
  assert s.common == pytest.approx((3.0 + 2.0 + 2.05 + ln_v) / 4 - 2.0)
  # Wortsman et al.: the diverged run counts at its own L0 = 7
  assert s.wortsman == pytest.approx((3.0 + 2.0 + 2.05 + 7.0) / 4 - 2.0)
  assert s.wortsman > s.common  # its bad init alone inflates the own-init version
  assert (s.best_lr, s.best_loss, s.diverged, s.edge, s.at_edge) == (1e-2, 2.0, 1, None, False)
  # within 0.1 nats of 2.0: LRs 1e-2 and 1e-1, consecutive -> 1 decade
  assert s.stable_decades == pytest.approx(1.0)
  assert s.reference == pytest.approx(ln_v)


def test_losses_above_ln_v_count_at_ln_v_and_unsorted_grids():
  s = sensitivity.lr_sensitivity([1e-1, 1e-3, 1e-2], [2.5, 9.0, 2.0], V)
  ln_v = math.log(V)
  assert s.common == pytest.approx((ln_v + 2.0 + 2.5) / 3 - 2.0)
  assert math.isnan(s.wortsman)  # no init losses given
  assert s.stable_decades == 0.0 and s.best_lr == 1e-2


def test_stable_decades_stop_at_a_gap():
  # 1e-4 and 1e-3 are near the best 1e-1, but 1e-2 (between) is not: not stable.
  s = sensitivity.lr_sensitivity([1e-4, 1e-3, 1e-2, 1e-1, 1.0],
                                 [2.05, 2.05, 3.0, 2.0, 2.08], V)
  assert s.stable_decades == pytest.approx(1.0)  # 1e-1 .. 1


@pytest.mark.parametrize('losses, edge', [([2.0, 2.5, 3.0], 'lowest'),
                                          ([3.0, 2.5, 2.0], 'highest')])
def test_best_at_grid_edge_is_flagged(losses, edge):
  s = sensitivity.lr_sensitivity([1e-3, 1e-2, 1e-1], losses, V)
  assert s.edge == edge and s.at_edge and s.flag == f'best at grid edge ({edge} LR)'


def test_nothing_learned_and_rows():
  s = sensitivity.lr_sensitivity([1e-3, 1e-2], [None, 4.0], V)  # 4.0 > ln 35
  assert math.isnan(s.common) and math.isnan(s.best_lr) and s.diverged == 1
  rows = [{'optim.lr': lr, 'final_eval_loss': loss, 'init_loss': 4.0, 'status': st,
           'vocab_size': V} for lr, loss, st in
          [(1e-3, 3.0, 'ok'), (1e-2, 2.0, 'ok'), (1e-1, 2.1, 'diverged')]]
  s = sensitivity.from_rows(rows)  # a diverged row counts at ln V whatever its loss
  assert s.common == pytest.approx((3.0 + 2.0 + math.log(V)) / 3 - 2.0) and s.diverged == 1
  assert s.wortsman == pytest.approx((3.0 + 2.0 + 4.0) / 3 - 2.0)
  with pytest.raises(ValueError, match='distinct'):
    sensitivity.lr_sensitivity([1e-3, 1e-3], [2.0, 2.0], V)


def test_holm_adjusted_p_values_by_hand():
  # m = 3, sorted 0.01, 0.02, 0.04: x3 = 0.03, x2 = 0.04, x1 = 0.04 (monotone).
  assert stats.holm([0.01, 0.02, 0.04]) == pytest.approx([0.03, 0.04, 0.04])
  assert stats.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])  # input order
  # 0.03 x 2 = 0.06: the second and third no longer pass 0.05.
  assert stats.holm([0.01, 0.03, 0.04]) == pytest.approx([0.03, 0.06, 0.06])
  # monotone: 0.011 x 2 = 0.022 is raised to the 0.03 before it; capped at 1.
  assert stats.holm([0.01, 0.011, 0.6]) == pytest.approx([0.03, 0.03, 0.6])
  assert stats.holm([0.5, 0.9]) == [1.0, 1.0] and stats.holm([]) == []


def _t2(p):
  """t with two-sided p-value p at 2 degrees of freedom, where the t CDF is
  1/2 + t / (2 sqrt(2 + t^2)): t^2 = 2 (1 - p)^2 / (1 - (1 - p)^2)."""
  return math.sqrt(2 * (1 - p) ** 2 / (1 - (1 - p) ** 2))


def _supported_with_p(p, delta=0.05):
  """An interval of 3 pairs with sd sqrt(3) (standard error 1) and mean delta + t."""
  mean, half = delta + _t2(p), T_975_2
  return stats.Interval(mean, mean - half, mean + half, 3, math.sqrt(3))


def test_p_value_is_the_outcomes_test():
  # se = 1, t = (|mean| - delta) / se = 1 -> p = 2 (1/2 - 1 / (2 sqrt 3)) = 0.42265
  iv = stats.Interval(1.05, math.nan, math.nan, 3, math.sqrt(3))
  assert stats.p_value(iv, 0.05) == pytest.approx(0.42265, abs=1e-5)
  assert stats.p_value(iv._replace(mean=-1.05), 0.05) == pytest.approx(0.42265, abs=1e-5)
  for p in (0.01, 0.03, 0.04):
    assert stats.p_value(_supported_with_p(p), 0.05) == pytest.approx(p)
  # the interval's edge at +delta is p = 0.05: above it supported and p < 0.05
  at_edge = stats.Interval(0.05 + T_975_2, 0.05, 0.05 + 2 * T_975_2, 3, math.sqrt(3))
  assert stats.p_value(at_edge, 0.05) == pytest.approx(0.05, abs=1e-4)
  iv = stats.paired_interval([2.0, 2.1, 1.9], [1.0] * 3)
  assert stats.outcome(iv, 0.05) == 'supported' and stats.p_value(iv, 0.05) < 0.05
  assert stats.p_value(stats.paired_interval([1.0, None], [0.0, 0.0]), 0.05) == 1.0
  assert stats.p_value(stats.Interval(0.02, 0.02, 0.02, 3, 0.0), 0.05) == 1.0


def test_family_adjusts_primary_comparisons_and_marks_exploratory_ones():
  from lnexp.claims import evidence as ev

  def comparison(name, p, primary=True):
    return ev.Comparison(name, _supported_with_p(p), 'supported', False, 0.05,
                         primary=primary)
  held = ev.family([comparison('a', 0.01), comparison('b', 0.02), comparison('c', 0.04)])
  assert [c.outcome for c in held] == ['supported'] * 3
  assert [c.note for c in held] == ['Holm p = 0.03', 'Holm p = 0.04', 'Holm p = 0.04']
  # m = 3 primary comparisons (the exploratory one is not in the family):
  # Holm p 0.03, 0.06, 0.06.
  adjusted = ev.family([comparison('a', 0.01), comparison('x', 0.001, primary=False),
                        comparison('b', 0.03), comparison('c', 0.04)])
  assert [c.outcome for c in adjusted] == ['supported', 'supported', 'inconclusive',
                                           'inconclusive']
  assert adjusted[1].note == 'exploratory: no verdict rests on it'
  assert adjusted[2].row()[-1] == ('**inconclusive** (Holm p = 0.06 >= 0.05; '
                                   'unadjusted supported)')
  # Only primary outcomes decide a rule.
  assert ev.combine([c.outcome for c in adjusted if c.primary]) == 'mixed'
  # Nothing was tested at a grid edge: p = 1, and the outcome stays inconclusive.
  edged = ev.compare('e', {'0': 2.0, '1': 2.1, '2': 1.9}, {'0': 1.0, '1': 1.0, '2': 1.0},
                     0.05, edge='lowest of 0.001..0.1')
  assert edged.p == 1.0 and ev.family([edged])[0] == edged
