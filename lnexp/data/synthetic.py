"""Synthetic Markov language with an exact entropy floor."""
from __future__ import annotations

import numpy as np

from lnexp.data.base import BOS, EOS, LANGUAGE, NUM_SPECIAL, PAD, Batch, DataSource, entropy
from lnexp.errors import ConfigError


class MarkovSource(DataSource):
  """A source sampled from tables over states: `next_probs` [N, V] and
  `next_state` [N, V], the `stationary` distribution of the packed stream, and
  `_last_token` [N], the token that leads into each state (a row's first input)."""

  def _sampling_tables(self) -> None:
    """Inverse-CDF tables of `next_probs` and `stationary` (last entries exactly 1)."""
    cdf_NxV = np.cumsum(self.next_probs, axis=1)
    self._cdf_NxV = cdf_NxV / cdf_NxV[:, -1:]
    pi_cdf = np.cumsum(self.stationary)
    self._pi_cdf = pi_cdf / pi_cdf[-1]

  def _stationary_states(self, rng) -> np.ndarray:
    """A packed row's first state per row, drawn from the stationary distribution."""
    return np.minimum(np.searchsorted(self._pi_cdf, rng.random(self.batch_size), 'right'),
                      len(self._pi_cdf) - 1)

  def _sample(self, state_B, uniform_TxB, bos_state_TxB=None) -> np.ndarray:
    """Token rows [B, T+1] from `state_B` by inverse CDF, vectorised over rows,
    looping over time; with `bos_state_TxB`, a BOS at step t moves to that state."""
    b, t = len(state_B), len(uniform_TxB)
    rows_BxL = np.empty((b, t + 1), dtype=np.int32)
    rows_BxL[:, 0] = self._last_token[state_B]
    for i in range(t):
      token_B = (self._cdf_NxV[state_B] <= uniform_TxB[i, :, None]).sum(axis=1)
      rows_BxL[:, i + 1] = token_B
      state_B = self.next_state[state_B, token_B]
      if bos_state_TxB is not None:
        state_B = np.where(token_B == BOS, bos_state_TxB[i], state_B)
    return rows_BxL


class SyntheticSource(MarkovSource):
  """Seeded order-k Markov language with geometric document lengths.

  States: 0 the start of a document, then one per last symbol (order 1) or per
  (BOS, a) and (a, b) (order 2), then EOS and PAD; generation, the exact
  entropy and `log_probs` share the `next_probs` and `next_state` tables.
  """

  def __init__(self, *, num_symbols: int, order: int, mean_doc_len: float,
               concentration: float, **kwargs):
    super().__init__(**kwargs)
    s = self.num_symbols = num_symbols
    self.order = order
    self.eos_prob = q = 1.0 / mean_doc_len
    self.vocab_size = s + NUM_SPECIAL
    self.name = 'synthetic'
    num_contexts = 1 + s if order == 1 else 1 + s + s * s
    self.eos_state, self.pad_state = num_contexts, num_contexts + 1
    n, v = num_contexts + 2, self.vocab_size

    rng = np.random.default_rng([self.seed, LANGUAGE, 0])
    self.symbol_probs = rows_CxS = dirichlet_rows(rng, s, concentration, num_contexts)

    probs_NxV = np.zeros((n, v))
    probs_NxV[0, NUM_SPECIAL:] = rows_CxS[0]   # a document has >= 1 symbol
    probs_NxV[1:num_contexts, EOS] = q
    probs_NxV[1:num_contexts, NUM_SPECIAL:] = (1 - q) * rows_CxS[1:]
    probs_NxV[self.eos_state, BOS if self.pack else PAD] = 1.0
    probs_NxV[self.pad_state, PAD] = 1.0
    self.next_probs = probs_NxV

    # last_symbol[state]: the symbol just emitted, -1 for start/EOS/PAD.
    last_symbol = np.full(n, -1)
    last_symbol[1:1 + s] = np.arange(s)
    last_symbol[1 + s:num_contexts] = np.arange(num_contexts - 1 - s) % s  # order 2
    symbols = np.arange(s)[None, :]
    next_state_NxV = np.zeros((n, v), dtype=np.int64)
    next_state_NxV[:, PAD] = self.pad_state
    next_state_NxV[:, BOS] = 0
    next_state_NxV[:, EOS] = self.eos_state
    # After symbol b: state 1 + b, or in order 2 after symbol a the pair (a, b).
    last = last_symbol[:, None]
    next_state_NxV[:, NUM_SPECIAL:] = np.where(
        (last < 0) | (order == 1), 1 + symbols, 1 + s + last * s + symbols)
    self.next_state = next_state_NxV
    self._last_token = np.where(last_symbol >= 0, last_symbol + NUM_SPECIAL,
                                PAD).astype(np.int32)
    self._last_token[0] = BOS
    self._last_token[self.eos_state] = EOS

    self.stationary = self._stationary_distribution()
    self._sampling_tables()
    self.entropy_rate = float(self.stationary @ entropy(self._packed_probs()))
    self.entropy_floor = (self.entropy_rate if self.pack
                          else self._padded_floor())

  def _packed_probs(self) -> np.ndarray:
    probs_NxV = self.next_probs.copy()
    probs_NxV[self.eos_state] = 0.0
    probs_NxV[self.eos_state, BOS] = 1.0
    return probs_NxV

  def _step_distribution(self, dist_N: np.ndarray,
                         probs_NxV: np.ndarray) -> np.ndarray:
    """One step of the chain on a distribution over states (vectorised)."""
    return np.bincount(self.next_state.ravel(),
                       weights=(dist_N[:, None] * probs_NxV).ravel(),
                       minlength=len(dist_N))

  def _stationary_distribution(self, tol: float = 1e-13,
                               max_iters: int = 200_000) -> np.ndarray:
    """Power iteration for the packed stream's stationary state distribution
    (it converges: the chain restarts at every BOS and is aperiodic)."""
    probs_NxV = self._packed_probs()
    dist_N = np.zeros(len(probs_NxV))
    dist_N[0] = 1.0 / (2 + 1.0 / self.eos_prob)  # exact mass of the BOS state
    dist_N[1:self.eos_state] = (1 - 2 * dist_N[0]) / (self.eos_state - 1)
    dist_N[self.eos_state] = dist_N[0]
    for _ in range(max_iters):
      new_N = self._step_distribution(dist_N, probs_NxV)
      if np.abs(new_N - dist_N).sum() < tol:
        return new_N / new_N.sum()
      dist_N = new_N
    raise RuntimeError('synthetic: stationary distribution did not converge')

  def _padded_floor(self) -> float:
    """Best mean loss over loss_mask with one `BOS doc EOS` per padded row."""
    dist_N = np.zeros(len(self.next_probs))
    dist_N[0] = 1.0
    entropy_N = entropy(self.next_probs)
    counted_N = np.arange(len(dist_N)) < self.eos_state  # target is not PAD
    total_entropy = total_count = 0.0
    for _ in range(self.seq_len):
      total_entropy += dist_N @ (entropy_N * counted_N)
      total_count += dist_N @ counted_N
      dist_N = self._step_distribution(dist_N, self.next_probs)
    return float(total_entropy / total_count)

  def _rows(self, split: int, index: int) -> np.ndarray:
    """Packed rows start in a state drawn from the stationary distribution (so
    every position is statistically alike); padded rows start at BOS."""
    rng = self._rng(split, index)
    state_B = (self._stationary_states(rng) if self.pack
               else np.zeros(self.batch_size, dtype=np.int64))
    return self._sample(state_B, rng.random((self.seq_len, self.batch_size)))

  def log_probs(self, batch: Batch) -> np.ndarray:
    """True-model log p(target | history) [B, T]; NaN where the row lacks history
    (order 2, packed: a first position that is a symbol)."""
    inputs_BxT, targets_BxT = batch['inputs'], batch['targets']
    s = self.num_symbols
    symbol_BxT = inputs_BxT.astype(np.int64) - NUM_SPECIAL
    is_symbol_BxT = symbol_BxT >= 0
    state_BxT = np.select(
        [inputs_BxT == BOS, inputs_BxT == EOS, inputs_BxT == PAD],
        [0, self.eos_state, self.pad_state], default=1 + symbol_BxT)
    known_BxT = np.ones(inputs_BxT.shape, dtype=bool)
    if self.order == 2:
      prev_BxT = np.concatenate(
          [np.full_like(symbol_BxT[:, :1], -NUM_SPECIAL - 1), symbol_BxT[:, :-1]],
          axis=1)
      pair_BxT = 1 + s + np.maximum(prev_BxT, 0) * s + symbol_BxT
      state_BxT = np.where(is_symbol_BxT & (prev_BxT >= 0), pair_BxT, state_BxT)
      known_BxT[:, 0] = ~is_symbol_BxT[:, 0]
    probs_BxT = self.next_probs[np.where(known_BxT, state_BxT, 0), targets_BxT]
    with np.errstate(divide='ignore'):
      return np.where(known_BxT, np.log(probs_BxT), np.nan)


def dirichlet_rows(rng, num_symbols: int, concentration: float, size):
  """Next-symbol distributions [*size, num_symbols] from a symmetric Dirichlet."""
  rows = rng.dirichlet(np.full(num_symbols, concentration), size=size)
  if not np.all(np.isfinite(rows)):
    raise ConfigError(f'data.concentration={concentration} is too small '
                      '(Dirichlet rows underflow); use >= 0.01')
  return rows


MAX_TABLE = 2**22  # transition-table entries a Markov source may hold


def check_table(entries: int, keys: str, formula: str) -> None:
  if entries > MAX_TABLE:
    raise ConfigError(f'{keys} needs a {entries:,}-entry transition table; keep '
                      f'{formula} <= {MAX_TABLE:,}')


def check(d) -> None:
  """The data.* keys of data.source=synthetic (ranges: lnexp.config)."""
  if d.order not in (1, 2):
    raise ConfigError(f'data.order={d.order} is not one of: 1, 2')
  check_table(d.num_symbols ** (d.order + 1),
              f'data.num_symbols={d.num_symbols} with data.order={d.order}',
              'num_symbols**(order+1)')


def markov_keys(d) -> dict:
  """The data.* keys a Markov source (this one, topics) is built from."""
  return dict(num_symbols=d.num_symbols, mean_doc_len=float(d.mean_doc_len),
              concentration=float(d.concentration))


def make(cfg, **common) -> SyntheticSource:
  return SyntheticSource(order=cfg.data.order, **markov_keys(cfg.data), **common)
