"""Synthetic documents whose best prediction needs the context: a latent topic.

Each document draws one of K seeded order-1 Markov chains over the same
symbols; packed or padded exactly as `SyntheticSource`. Its exact reference
losses (Bayes, previous token only, unigram): docs/data-and-workdir.md.
"""
from __future__ import annotations

import functools

import numpy as np

from lnexp.data.base import BOS, EOS, LANGUAGE, NUM_SPECIAL, PAD, Batch, entropy
from lnexp.data.synthetic import MarkovSource, check_table, dirichlet_rows, markov_keys
from lnexp.errors import ConfigError


class TopicSource(MarkovSource):
  """K order-1 Markov chains, one per document, drawn uniformly.

  Sampling states: `k * (1 + S) + c`, c = 0 the start of a topic-k document
  and c = 1 + a after symbol a; then EOS and PAD. BOS draws a fresh topic.
  """

  def __init__(self, *, num_topics: int, num_symbols: int, mean_doc_len: float,
               concentration: float, **kwargs):
    super().__init__(**kwargs)
    k, s = self.num_topics, self.num_symbols = num_topics, num_symbols
    self.eos_prob = q = 1.0 / mean_doc_len
    self.vocab_size = v = s + NUM_SPECIAL
    self.name = 'topics'
    rng = np.random.default_rng([self.seed, LANGUAGE, 1])
    rows_KxCxS = dirichlet_rows(rng, s, concentration, (k, 1 + s))
    self.start_KxS = rows_KxCxS[:, 0]         # first symbol of a topic-k document
    self.trans_KxSxS = rows_KxCxS[:, 1:]      # [k, a, b] = p(b | a, topic k)

    # Sampling tables over states (see class doc).
    c = 1 + s
    self.eos_state, self.pad_state = k * c, k * c + 1
    n = k * c + 2
    probs_NxV = np.zeros((n, v))
    next_state_NxV = np.zeros((n, v), dtype=np.int64)
    for topic in range(k):
      block = slice(topic * c, (topic + 1) * c)
      probs_NxV[topic * c, NUM_SPECIAL:] = self.start_KxS[topic]
      probs_NxV[topic * c + 1:(topic + 1) * c, EOS] = q
      probs_NxV[topic * c + 1:(topic + 1) * c, NUM_SPECIAL:] = (
          (1 - q) * self.trans_KxSxS[topic])
      next_state_NxV[block, NUM_SPECIAL:] = topic * c + 1 + np.arange(s)
    probs_NxV[self.eos_state, BOS if self.pack else PAD] = 1.0
    probs_NxV[self.pad_state, PAD] = 1.0
    next_state_NxV[:, EOS] = self.eos_state
    next_state_NxV[:, PAD] = self.pad_state
    next_state_NxV[:, BOS] = 0  # + c * (a fresh topic), drawn while sampling
    self.next_probs, self.next_state = probs_NxV, next_state_NxV
    self._last_token = np.concatenate(
        [np.tile(np.r_[BOS, NUM_SPECIAL + np.arange(s)], k), [EOS, PAD]]).astype(np.int32)

    # Packed stream's stationary distribution, exactly: per document one BOS
    # state, one EOS state and visits_k = start_k (I - (1-q) T_k)^-1 symbol
    # states (sum 1/q), topic mass 1/K.
    visits_KxS = np.stack([np.linalg.solve((np.eye(s) - (1 - q) * self.trans_KxSxS[i]).T,
                                           self.start_KxS[i]) for i in range(k)])
    mass = 1.0 / (2.0 + 1.0 / q)
    stationary = np.zeros(n)
    stationary[0:k * c:c] = mass / k
    for topic in range(k):
      stationary[topic * c + 1:(topic + 1) * c] = mass / k * visits_KxS[topic]
    stationary[self.eos_state] = mass
    self.stationary = stationary / stationary.sum()
    self._sampling_tables()

    # Topic posterior given only the previous symbol, under each format's
    # occupancy of (topic, symbol) over a row's input positions.
    occupancy_KxS = (visits_KxS if self.pack else self._padded_occupancy())
    self.topic_given_symbol_SxK = _normalise(occupancy_KxS.T)
    # Emission rows by input token: p(next symbol | input, topic) / p(symbol).
    emit_VxKxS = np.zeros((v, k, s))
    emit_VxKxS[BOS] = self.start_KxS
    emit_VxKxS[NUM_SPECIAL:] = self.trans_KxSxS.transpose(1, 0, 2)
    self._emit_VxKxS = emit_VxKxS
    cf_VxV = np.zeros((v, v))
    cf_VxV[BOS, NUM_SPECIAL:] = self.start_KxS.mean(0)
    cf_VxV[NUM_SPECIAL:, EOS] = q
    cf_VxV[NUM_SPECIAL:, NUM_SPECIAL:] = (1 - q) * np.einsum(
        'ak,kab->ab', self.topic_given_symbol_SxK, self.trans_KxSxS)
    cf_VxV[EOS, BOS if self.pack else PAD] = 1.0
    cf_VxV[PAD, PAD] = 1.0
    self.context_free_probs = cf_VxV   # [prev token, next token]

  def _padded_occupancy(self) -> np.ndarray:
    """Expected visits to (topic, symbol) at input positions 0..T-1 of a padded row."""
    k, s, q = self.num_topics, self.num_symbols, self.eos_prob
    start_K = np.full(k, 1.0 / k)   # mass in the start state (input BOS)
    symbol_KxS = np.zeros((k, s))   # mass after each symbol
    total_KxS = np.zeros((k, s))
    for _ in range(self.seq_len):
      total_KxS += symbol_KxS
      symbol_KxS = (start_K[:, None] * self.start_KxS
                    + (1 - q) * np.einsum('ka,kab->kb', symbol_KxS, self.trans_KxSxS))
      start_K = np.zeros(k)
    return total_KxS

  def _rows(self, split: int, index: int) -> np.ndarray:
    rng = self._rng(split, index)
    b, t, c = self.batch_size, self.seq_len, 1 + self.num_symbols
    state_B = (self._stationary_states(rng) if self.pack
               else rng.integers(self.num_topics, size=b) * c)
    uniform_TxB = rng.random((t, b))
    return self._sample(state_B, uniform_TxB, rng.integers(self.num_topics, size=(t, b)) * c)

  def log_probs(self, batch: Batch) -> np.ndarray:
    """Bayes-optimal log p(target | the row so far) [B, T], by forward filtering
    (the topic belief resets at each BOS; a packed row starts from p(topic | a))."""
    inputs_BxT = np.asarray(batch['inputs'])
    targets_BxT = np.asarray(batch['targets'])
    b, t = inputs_BxT.shape
    k, q = self.num_topics, self.eos_prob
    first_B = inputs_BxT[:, 0].astype(np.int64) - NUM_SPECIAL
    belief_BxK = np.where((first_B >= 0)[:, None],
                          self.topic_given_symbol_SxK[np.maximum(first_B, 0)], 1.0 / k)
    rows = np.arange(b)
    out_BxT = np.empty((b, t))
    for i in range(t):
      x_B, y_B = inputs_BxT[:, i], targets_BxT[:, i]
      belief_BxK = np.where((x_B == BOS)[:, None], 1.0 / k, belief_BxK)
      y_sym_B = np.maximum(y_B.astype(np.int64) - NUM_SPECIAL, 0)
      like_BxK = self._emit_VxKxS[x_B][rows, :, y_sym_B]     # p(y | x, topic) / p(sym)
      joint_BxK = belief_BxK * like_BxK
      p_symbol_B = joint_BxK.sum(1) * np.where(x_B == BOS, 1.0, 1.0 - q)
      # Targets other than a symbol are decided by the input token alone.
      p_B = np.where(y_B >= NUM_SPECIAL, p_symbol_B,
                     self.context_free_probs[x_B, y_B])
      with np.errstate(divide='ignore'):
        out_BxT[:, i] = np.log(p_B)
      is_symbol_B = (y_B >= NUM_SPECIAL) & (joint_BxK.sum(1) > 0)
      belief_BxK = np.where(is_symbol_B[:, None], _normalise(joint_BxK), belief_BxK)
    return out_BxT

  def context_free_log_probs(self, batch: Batch) -> np.ndarray:
    """log p(target | previous token only) [B, T] (`context_free_probs`)."""
    with np.errstate(divide='ignore'):
      return np.log(self.context_free_probs[batch['inputs'], batch['targets']])

  @functools.cached_property
  def eval_losses(self) -> dict[str, float]:
    """{'bayes', 'context_free', 'unigram'}: mean losses over the eval batches' loss mask."""
    nll = {'bayes': 0.0, 'context_free': 0.0}
    count, counts_V = 0.0, np.zeros(self.vocab_size)
    for i in range(self.eval_batches):
      batch = self.eval_batch(i)
      mask_BxT = batch['loss_mask'] > 0
      nll['bayes'] -= self.log_probs(batch)[mask_BxT].sum()
      nll['context_free'] -= self.context_free_log_probs(batch)[mask_BxT].sum()
      count += mask_BxT.sum()
      counts_V += np.bincount(batch['targets'][mask_BxT], minlength=self.vocab_size)
    out = {key: float(value / count) for key, value in nll.items()}
    out['unigram'] = float(entropy(counts_V / counts_V.sum()))
    return out

  @property
  def entropy_floor(self) -> float:
    """Bayes-optimal mean loss on the eval batches (the model's eval tokens)."""
    return self.eval_losses['bayes']

  @property
  def context_free_loss(self) -> float:
    """Best previous-token-only predictor's mean loss on the eval batches."""
    return self.eval_losses['context_free']

  @property
  def unigram_loss(self) -> float:
    """Entropy of the eval targets' token frequencies."""
    return self.eval_losses['unigram']


def _normalise(x_NxK: np.ndarray) -> np.ndarray:
  """Rows scaled to sum 1; an all-zero row becomes uniform."""
  total_N = x_NxK.sum(-1, keepdims=True)
  return np.where(total_N > 0, x_NxK / np.where(total_N > 0, total_N, 1.0),
                  1.0 / x_NxK.shape[-1])


def check(d) -> None:
  """The data.* keys of data.source=topics (ranges: lnexp.config)."""
  if d.order != 1:
    raise ConfigError(f'data.order={d.order}: data.source=topics is order 1 '
                      '(one order-1 chain per topic)')
  check_table(d.num_topics * (d.num_symbols + 1) * d.num_symbols,
              f'data.num_topics={d.num_topics} x data.num_symbols={d.num_symbols}',
              'num_topics * (num_symbols + 1) * num_symbols')


def make(cfg, **common) -> TopicSource:
  return TopicSource(num_topics=cfg.data.num_topics, **markov_keys(cfg.data), **common)
