"""Paired statistics over seeds and the four outcomes of a rule with a minimum effect.

Every function takes (x, y) and works on the per-seed d = x - y, oriented by
the caller so that a positive d is what the claim predicts; the outcomes,
the log scale and Holm are defined in docs/claims-analysis.md.
"""
from __future__ import annotations

import math
from typing import Mapping, NamedTuple, Sequence

import numpy as np
from scipy import stats as scipy_stats

SUPPORTED, CONTRADICTED, NO_EFFECT, INCONCLUSIVE = (
    'supported', 'contradicted', 'no effect', 'inconclusive')


class Interval(NamedTuple):
  """Mean of the paired differences with its two-sided t-interval."""
  mean: float
  low: float   # NaN when undefined (n < 2 or missing input)
  high: float
  n: int
  sd: float
  missing: int = 0  # pairs with a missing or non-finite member


def _finite(v) -> bool:
  return v is not None and isinstance(v, (int, float, np.number)) and math.isfinite(v)


def pairs(x: Mapping | Sequence, y: Mapping | Sequence) -> list[tuple[object, object]]:
  """(x, y) pairs: by key for mappings (seed -> value; a key present in only
  one side pairs with None), by position for sequences (equal lengths)."""
  if isinstance(x, Mapping) != isinstance(y, Mapping):
    raise TypeError('x and y must both be mappings (seed -> value) or both sequences')
  if isinstance(x, Mapping):
    return [(x.get(k), y.get(k)) for k in sorted(set(x) | set(y), key=str)]
  if len(x) != len(y):
    raise ValueError(f'paired inputs of different lengths: {len(x)} and {len(y)}')
  return list(zip(x, y))


def t_quantile(n: int) -> float:
  """Two-sided 95% Student-t quantile for n pairs (n - 1 degrees of freedom)."""
  return float(scipy_stats.t.ppf(0.975, n - 1))


def _interval(d: list[float], missing: int) -> Interval:
  n = len(d)
  mean = float(np.mean(d)) if n else math.nan
  sd = float(np.std(d, ddof=1)) if n > 1 else math.nan
  if missing or n < 2:
    return Interval(mean, math.nan, math.nan, n, sd, missing)
  half = t_quantile(n) * sd / math.sqrt(n)
  return Interval(mean, mean - half, mean + half, n, sd, missing)


def paired_interval(x, y) -> Interval:
  """t-interval of mean(x - y) over paired seeds (see the module's sign convention)."""
  ps = pairs(x, y)
  ok = [(a, b) for a, b in ps if _finite(a) and _finite(b)]
  return _interval([float(a) - float(b) for a, b in ok], len(ps) - len(ok))


def log_ratio_interval(x, y) -> Interval:
  """t-interval of mean(log x - log y) over paired seeds, for positive
  heavy-tailed quantities; a non-positive value counts as missing."""
  ps = pairs(x, y)
  ok = [(a, b) for a, b in ps if _finite(a) and _finite(b) and a > 0 and b > 0]
  return _interval([math.log(a) - math.log(b) for a, b in ok], len(ps) - len(ok))


def outcome(interval: Interval | tuple[float, float], delta: float) -> str:
  """supported, contradicted, no effect or inconclusive: the interval of d
  against the minimum effect delta >= 0."""
  if not (isinstance(delta, (int, float)) and math.isfinite(delta) and delta >= 0):
    raise ValueError(f'minimum effect delta must be a finite number >= 0, got {delta!r}')
  if isinstance(interval, Interval):
    if interval.missing or interval.n < 2:
      return INCONCLUSIVE
    low, high = interval.low, interval.high
  else:
    low, high = interval
  if not (_finite(low) and _finite(high)) or low > high:
    return INCONCLUSIVE
  if low > delta:
    return SUPPORTED
  if high < -delta:
    return CONTRADICTED
  if -delta <= low and high <= delta:
    return NO_EFFECT
  return INCONCLUSIVE


def p_value(interval: Interval, delta: float) -> float:
  """Two-sided p-value of the test the outcome makes against delta (< 0.05
  exactly when supported or contradicted); 1 without an interval."""
  if interval.missing or interval.n < 2 or not math.isfinite(interval.sd):
    return 1.0
  se = interval.sd / math.sqrt(interval.n)
  if se == 0:
    return 0.0 if abs(interval.mean) > delta else 1.0
  t = (abs(interval.mean) - delta) / se
  return min(1.0, 2 * float(scipy_stats.t.sf(t, interval.n - 1)))


def holm(p_values: Sequence[float]) -> list[float]:
  """Holm-Bonferroni adjusted p-values, in the input's order."""
  m, adjusted, running = len(p_values), [math.nan] * len(p_values), 0.0
  for rank, i in enumerate(sorted(range(m), key=lambda i: p_values[i])):
    running = max(running, min(1.0, (m - rank) * p_values[i]))
    adjusted[i] = running
  return adjusted


class Spread(NamedTuple):
  median: float
  q25: float
  q75: float
  n: int
  missing: int


def median_iqr(values: Sequence) -> Spread:
  """Median and interquartile range of the finite values; `missing` counts the rest."""
  ok = [float(v) for v in values if _finite(v)]
  if not ok:
    return Spread(math.nan, math.nan, math.nan, 0, len(values))
  q25, med, q75 = np.quantile(ok, [0.25, 0.5, 0.75])
  return Spread(float(med), float(q25), float(q75), len(ok), len(values) - len(ok))


def spearman(x, y) -> tuple[float, float, int]:
  """Spearman's rho over the pairs where both are finite, and a two-sided
  permutation p-value (10,000 permutations, fixed seed)."""
  x, y = np.asarray(x, float), np.asarray(y, float)
  keep = np.isfinite(x) & np.isfinite(y)
  x, y = scipy_stats.rankdata(x[keep]), scipy_stats.rankdata(y[keep])
  n = len(x)
  if n < 3:
    return math.nan, math.nan, n
  rho = float(np.corrcoef(x, y)[0, 1])
  perms = np.random.default_rng(0).permuted(np.tile(y, (10_000, 1)), axis=1)
  null = np.array([np.corrcoef(x, p)[0, 1] for p in perms])
  return rho, float((np.abs(null) >= abs(rho)).mean()), n
