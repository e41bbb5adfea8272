"""Tests for lnexp.data.topics: the latent-topic source's exact floors.

A brute-force model of the process (explicit hidden states, every path of a
short row enumerated) checks the forward filter on every possible row, the
best previous-token predictor, the expected losses and the sampler; then the
default settings must need the context, batches must be pure, and a run
through lnexp.run must work on it.
"""
from __future__ import annotations

import collections
import json
import math
import os

import numpy as np
import pytest

from lnexp import config, data
from lnexp.data.base import BOS, EOS, NUM_SPECIAL, PAD, rows_to_batch
from lnexp.errors import ConfigError
from lnexp.models.validate import validate
from lnexp.train import sweep as train

TINY = os.path.join(os.path.dirname(__file__), 'tiny_config.py')
# Default settings must leave this much (nats) between the best previous-token
# predictor and the Bayes-optimal one (measured 0.56-0.59 over data seeds 0-4).
CONTEXT_MARGIN = 0.3


def _source(**overrides):
  """The validated topics source (as every run's is) with `overrides`."""
  base = {'data.source': 'topics', 'train.batch_size': 4, 'train.seq_len': 32}
  cfg = config.apply_overrides(config.base_config(), {**base, **overrides})
  validate(cfg)
  return data.make_source(cfg)


def _tiny(pack, **overrides):
  """2 topics over 2 symbols, short documents, rows of 6 tokens (a language
  seed whose topics differ: the context is worth 0.06-0.09 nats)."""
  return _source(**{'data.num_topics': 2, 'data.num_symbols': 2, 'data.mean_doc_len': 2,
                    'data.concentration': 0.3, 'data.seed': 2, 'data.pack': pack,
                    'train.seq_len': 6, **overrides})


# ------------------------------------------------------- brute-force process


def _moves(src, state):
  """[(token, next state, probability)] of one hidden state, from the parameters."""
  k, q = src.num_topics, src.eos_prob
  if state[0] == 'start':
    return [(NUM_SPECIAL + a, ('sym', state[1], a), p)
            for a, p in enumerate(src.start_KxS[state[1]])]
  if state[0] == 'sym':
    _, topic, a = state
    return [(EOS, ('eos',), q)] + [(NUM_SPECIAL + b, ('sym', topic, b), (1 - q) * p)
                                   for b, p in enumerate(src.trans_KxSxS[topic, a])]
  if state[0] == 'eos' and src.pack:
    return [(BOS, ('start', topic), 1.0 / k) for topic in range(k)]
  return [(PAD, ('pad',), 1.0)]


def _last_token(state):
  special = {'start': BOS, 'eos': EOS, 'pad': PAD}
  return special[state[0]] if state[0] in special else NUM_SPECIAL + state[2]


def _initial(src):
  """Start distribution of a row: BOS with a uniform topic (padded), or the
  packed stream's stationary distribution (a left eigenvector, solved here)."""
  k, s = src.num_topics, src.num_symbols
  if not src.pack:
    return {('start', topic): 1.0 / k for topic in range(k)}
  states = ([('start', t) for t in range(k)] + [('sym', t, a) for t in range(k)
                                                for a in range(s)] + [('eos',)])
  index = {st: i for i, st in enumerate(states)}
  matrix = np.zeros((len(states), len(states)))
  for st in states:
    for _, nxt, p in _moves(src, st):
      matrix[index[st], index[nxt]] += p
  system = np.vstack([matrix.T - np.eye(len(states)), np.ones(len(states))])
  pi = np.linalg.lstsq(system, np.r_[np.zeros(len(states)), 1.0], rcond=None)[0]
  return {st: pi[index[st]] for st in states if pi[index[st]] > 0}


def _enumerate(src):
  """Every row of T+1 tokens: ({row: probability}, {prefix: probability})."""
  rows, prefixes = collections.Counter(), collections.Counter()
  stack = [((_last_token(st),), st, p) for st, p in _initial(src).items()]
  while stack:
    tokens, state, p = stack.pop()
    prefixes[tokens] += p
    if len(tokens) == src.seq_len + 1:
      rows[tokens] += p
      continue
    stack += [(tokens + (tok,), nxt, p * pm) for tok, nxt, pm in _moves(src, state) if pm > 0]
  return rows, prefixes


def _bayes_log_probs(row, prefixes):
  return np.array([np.log(prefixes[row[:i + 2]] / prefixes[row[:i + 1]])
                   for i in range(len(row) - 1)])


# ------------------------------------------------------------------- tests


@pytest.mark.parametrize('pack', [True, False])
def test_forward_filter_matches_enumeration_on_every_row(pack):
  src = _tiny(pack)
  rows, prefixes = _enumerate(src)
  assert np.isclose(sum(rows.values()), 1.0)
  assert len(rows) > 50  # packed: some rows start mid-document
  row_list = sorted(rows)
  batch = rows_to_batch(np.array(row_list))
  want = np.stack([_bayes_log_probs(r, prefixes) for r in row_list])
  np.testing.assert_allclose(src.log_probs(batch), want, atol=1e-10)


@pytest.mark.parametrize('pack', [True, False])
def test_context_free_predictor_is_the_best_bigram(pack):
  """p(next | previous token) of the process over a row's input positions."""
  src = _tiny(pack)
  rows, _ = _enumerate(src)
  joint = np.zeros((src.vocab_size, src.vocab_size))
  for row, p in rows.items():
    for x, y in zip(row[:-1], row[1:]):
      joint[x, y] += p
  seen = joint.sum(1) > 0
  np.testing.assert_allclose(src.context_free_probs[seen],
                             joint[seen] / joint[seen].sum(1, keepdims=True), atol=1e-12)
  # With one topic the previous token is all the context there is.
  one = _tiny(pack, **{'data.num_topics': 1})
  batch = one.eval_batch(0)
  np.testing.assert_allclose(one.log_probs(batch), one.context_free_log_probs(batch),
                             atol=1e-12)


def _ratio_and_se(nll_R, count_R):
  ratio = nll_R.sum() / count_R.sum()
  return ratio, np.std(nll_R - ratio * count_R) / np.sqrt(len(nll_R)) / count_R.mean()


@pytest.mark.parametrize('pack', [True, False])
def test_eval_floors_agree_with_enumerated_expectations(pack):
  """The eval-set losses are the exact per-token means of the two predictors,
  and agree (within 4 standard errors) with their expectations by enumeration."""
  src = _tiny(pack, **{'train.batch_size': 1000, 'train.eval_batches': 20})
  rows, prefixes = _enumerate(src)
  expected = {'bayes': [0.0, 0.0], 'context_free': [0.0, 0.0]}
  for row, p in rows.items():
    mask = np.array(row[1:]) != PAD
    cf = np.log(src.context_free_probs[list(row[:-1]), list(row[1:])])
    for key, log_p in (('bayes', _bayes_log_probs(row, prefixes)), ('context_free', cf)):
      expected[key][0] -= p * log_p[mask].sum()
      expected[key][1] += p * mask.sum()
  per_row = {'bayes': [], 'context_free': [], 'count': []}
  sampled = collections.Counter()
  for i in range(src.eval_batches):
    batch = src.eval_batch(i)
    mask = batch['loss_mask'] > 0
    per_row['bayes'].append(-(src.log_probs(batch) * mask).sum(1))
    per_row['context_free'].append(-(src.context_free_log_probs(batch) * mask).sum(1))
    per_row['count'].append(mask.sum(1))
    rows_BxL = np.concatenate([batch['inputs'], batch['targets'][:, -1:]], axis=1)
    sampled.update(map(tuple, rows_BxL.tolist()))
  count = np.concatenate(per_row['count'])
  for key, attribute in (('bayes', 'entropy_floor'), ('context_free', 'context_free_loss')):
    nll = np.concatenate(per_row[key])
    ratio, se = _ratio_and_se(nll, count)
    want = expected[key][0] / expected[key][1]
    print(f'pack={pack} {key}: eval {ratio:.4f} ± {se:.4f}, enumerated {want:.4f}')
    assert np.isclose(getattr(src, attribute), ratio, rtol=1e-12)
    assert abs(ratio - want) < 4 * se
  assert src.context_free_loss > src.entropy_floor + 0.05
  # The sampler draws rows with the enumerated probabilities (Pearson chi-square,
  # rows expected fewer than 5 times pooled): a z-score under 5.
  assert set(sampled) <= set(rows)
  n = sum(sampled.values())
  big = [r for r in rows if rows[r] * n >= 5]
  observed = np.array([sampled[r] for r in big] + [n - sum(sampled[r] for r in big)])
  expect = np.array([rows[r] * n for r in big] + [n - sum(rows[r] * n for r in big)])
  chi2 = ((observed - expect) ** 2 / np.maximum(expect, 1e-9)).sum()
  dof = len(observed) - 1
  assert (chi2 - dof) / np.sqrt(2 * dof) < 5, (chi2, dof)


@pytest.mark.parametrize('pack', [True, False])
def test_default_settings_need_the_context(pack):
  """At the default config (batch 32 x 128, 4 eval batches, 4 topics of 32
  symbols) the best previous-token predictor is CONTEXT_MARGIN nats worse."""
  for seed in (0, 1, 2):
    src = data.make_source(config.apply_overrides(
        config.base_config(), {'data.source': 'topics', 'data.pack': pack,
                               'data.seed': seed}))
    print(f'pack={pack} seed={seed}: bayes {src.entropy_floor:.4f} context-free '
          f'{src.context_free_loss:.4f} unigram {src.unigram_loss:.4f}')
    assert src.context_free_loss > src.entropy_floor + CONTEXT_MARGIN
    assert src.unigram_loss > src.context_free_loss


def test_batches_are_pure_functions_of_seed_split_index():
  for pack in (True, False):
    one, two = _source(**{'data.pack': pack}), _source(**{'data.pack': pack})
    for a, b in ((one.train_batch(7), two.train_batch(7)),
                 (one.eval_batch(1), two.eval_batch(1)),
                 (two.train_batch(3), two.train_batch(3))):
      assert a.keys() == b.keys()
      for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(one.train_batch(0)['inputs'], one.eval_batch(0)['inputs'])
    assert not np.array_equal(one.train_batch(0)['inputs'], one.train_batch(1)['inputs'])
    other = _source(**{'data.pack': pack, 'data.seed': 1})
    assert not np.array_equal(one.train_batch(0)['inputs'], other.train_batch(0)['inputs'])
    assert not np.allclose(one.trans_KxSxS, other.trans_KxSxS)


@pytest.mark.parametrize('pack', [True, False])
def test_batches_follow_the_layout(pack):
  src = _source(**{'data.pack': pack, 'train.batch_size': 16, 'train.seq_len': 96})
  batch = src.train_batch(0)
  inputs, targets = batch['inputs'], batch['targets']
  assert inputs.dtype == targets.dtype == np.int32 and inputs.shape == (16, 96)
  assert inputs.max() < src.vocab_size == 32 + NUM_SPECIAL
  np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])
  np.testing.assert_array_equal(batch['loss_mask'], targets != PAD)
  after_eos = targets[:, 1:][inputs[:, 1:] == EOS]
  assert set(after_eos.tolist()) == ({BOS} if pack else {PAD})
  after_bos = targets[inputs == BOS]
  assert (after_bos >= NUM_SPECIAL).all()  # a document has >= 1 symbol
  if not pack:
    assert (inputs[:, 0] == BOS).all()
  assert np.isfinite(src.log_probs(batch)[batch['loss_mask'] > 0]).all()


@pytest.mark.parametrize('overrides, key', [
    ({'data.num_topics': 0}, 'data.num_topics'),
    ({'data.order': 2}, 'data.order'),
    ({'data.num_topics': 64, 'data.num_symbols': 512}, 'data.num_topics'),
    ({'data.concentration': 0.0}, 'data.concentration'),
])
def test_config_errors(overrides, key):
  with pytest.raises(ConfigError) as e:
    _source(**overrides)
  assert key in str(e.value) and '\n' not in str(e.value)


def test_a_run_trains_on_topics(tmp_path):
  """lnexp.run end to end: rows carry the Bayes floor; the model learns."""
  rows = train.train_and_evaluate(TINY, {'data.source': 'topics'}, str(tmp_path))
  src = data.make_source(config.apply_overrides(
      config.base_config(), {'data.source': 'topics', 'train.batch_size': 8,
                             'train.seq_len': 16, 'train.eval_batches': 2}))
  parsed = [json.loads(line) for line in open(tmp_path / 'results.jsonl')]
  assert len(parsed) == len(rows) == 3
  by_lr = {r['optim.lr']: r for r in parsed}
  ok = by_lr[1e-2]
  assert ok['status'] == 'ok' and ok['vocab_size'] == src.vocab_size
  assert ok['entropy_floor'] == pytest.approx(src.entropy_floor, rel=1e-12)
  # From ln V (the fair start) to below what token frequencies alone give.
  assert ok['init_loss'] == pytest.approx(math.log(src.vocab_size), abs=0.02)
  assert src.entropy_floor < ok['final_eval_loss'] < ok['unigram_entropy']
