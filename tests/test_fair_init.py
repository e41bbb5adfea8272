"""lnexp's default init starts every variant within 0.02 nats of ln V; an
untied, zero-initialised output layer (claims v4) starts it exactly there.

With unit-variance tied embeddings, a normalized final stream carries the
current token's own embedding, whose logit is ~sqrt(E): the initial loss then
sits far above ln V for the norm variants only (the unfair start of claims v3).
"""
import math

import jax
import numpy as np
import pytest

from lnexp import config as config_lib
from lnexp.claims import sizes
from lnexp.data import make_source
from lnexp.models.model import AlbertGPT, ModelConfig
from lnexp.models.validate import validate
from tests.conftest import tiny_config

VARIANTS = [('layernorm', 'post'), ('layernorm', 'pre'), ('layernorm', 'peri'),
            ('rmsnorm', 'pre'), ('dyt', 'pre'), ('none', 'pre'),
            ('derf', 'pre'), ('layernorm', 'lns'), ('layernorm', 'mixln'),
            ('rmsnorm', 'hybridnorm'), ('layernorm', 'admin')]
# The normalization zoo (issue 35) at the benchmark size, each as its
# overrides of lnexp.claims.sizes.learned_config (d=128, 2 shared layers, the
# zero untied output layer), on the benchmark's topics data.
ZOO = {'derf': {'model.norm': 'derf', 'model.placement': 'pre'},
       'lns': {'model.placement': 'lns'},
       'mixln': {'model.placement': 'mixln', 'model.mixln_post_fraction': 0.5},
       'hybridnorm': {'model.norm': 'rmsnorm', 'model.placement': 'hybridnorm'},
       'admin': {'model.placement': 'admin', 'model.branch_init': 'plain'},
       'ngpt': {'model.norm': 'none', 'model.placement': 'ngpt'}}


def _initial_loss(norm, placement, **init):
  cfg = tiny_config(**{'model.norm': norm, 'model.placement': placement,
                       'model.vocab_size': -1, 'model.hidden_dim': 32, 'model.embed_dim': 32,
                       'train.batch_size': 8, 'train.seq_len': 16, 'data.source': 'topics',
                       **init})
  source = make_source(cfg)
  cfg.model.vocab_size = source.vocab_size
  model, batch = AlbertGPT(ModelConfig.from_config(cfg)), source.eval_batch(0)
  args = (batch['inputs'], batch['segment_ids'], batch['loss_mask'])
  logits = model.apply(model.init(jax.random.PRNGKey(0), *args), *args)
  logp = jax.nn.log_softmax(logits)
  nll = -np.take_along_axis(np.asarray(logp), batch['targets'][..., None], -1)[..., 0]
  return float((nll * batch['loss_mask']).sum() / batch['loss_mask'].sum()), source.vocab_size


@pytest.mark.parametrize('norm,placement', VARIANTS)
def test_zero_output_layer_starts_at_log_vocab(norm, placement):
  loss, vocab = _initial_loss(norm, placement, **{'model.unembed_init': 0.0})
  assert loss == pytest.approx(math.log(vocab), abs=1e-5)


@pytest.mark.parametrize('norm,placement', VARIANTS + [('batchnorm', 'pre'), ('none', 'rezero'),
                                                       ('layernorm', 'deepnorm')])
def test_the_default_init_starts_every_variant_near_log_vocab(norm, placement):
  # logits ~ N(0, s^2), s = 0.1 x the final stream's RMS (1 normalized, ~sqrt(2)
  # without a norm: unit token + position embeddings): loss - ln V ~ s^2 / 2 ~ 0.01.
  loss, vocab = _initial_loss(norm, placement)
  assert abs(loss - math.log(vocab)) < 0.02


def test_tied_unit_embeddings_start_high_with_a_norm():
  loss, vocab = _initial_loss('layernorm', 'post', **{'model.tie_embeddings': True,
                                                       'model.unembed_init': 1.0})
  assert loss > math.log(vocab) + 0.5


@pytest.mark.parametrize('name', sorted(ZOO))
def test_zoo_starts_near_log_vocab_at_the_benchmark_size(name):
  cfg = config_lib.apply_overrides(sizes.learned_config('core'),
                                   {'data.source': 'topics', **ZOO[name]})
  source = make_source(cfg)
  cfg.model.vocab_size = source.vocab_size
  validate(cfg)
  model, batch = AlbertGPT(ModelConfig.from_config(cfg)), source.eval_batch(0)
  args = (batch['inputs'], batch['segment_ids'], batch['loss_mask'])
  logits = jax.jit(model.apply)(jax.jit(model.init)(jax.random.PRNGKey(0), *args), *args)
  ce = -np.take_along_axis(np.asarray(jax.nn.log_softmax(logits)),
                           batch['targets'][..., None], -1)[..., 0]
  loss = float((ce * batch['loss_mask']).sum() / batch['loss_mask'].sum())
  assert abs(loss - math.log(source.vocab_size)) < 0.3


def _cnn_initial_loss(norm, gain):
  from lnexp.models.archs import ARCHS
  from lnexp.models.validate import with_arch
  cfg = config_lib.apply_overrides(with_arch(config_lib.base_config(), 'cnn'), {
      'model.norm': norm, 'model.placement': 'post', 'model.num_layers': 12,
      'model.hidden_dim': 8, 'model.unembed_init': gain, 'data.source': 'digits',
      'train.batch_size': 64})
  source = make_source(cfg)
  cfg.model.vocab_size = source.vocab_size
  model, batch = ARCHS['cnn'].model(ModelConfig.from_config(cfg)), source.eval_batch(0)
  logits = model.apply(model.init(jax.random.PRNGKey(0), batch['inputs']), batch['inputs'])
  logp = np.asarray(jax.nn.log_softmax(logits))[:, 0]
  ce = -np.take_along_axis(logp, np.asarray(batch['targets']).reshape(-1, 1), 1)
  return float(ce.mean()), source.vocab_size


@pytest.mark.parametrize('norm', ['none', 'layernorm', 'batchnorm'])
def test_the_cnn_head_reads_the_output_gain_and_starts_near_log_classes(norm):
  """The default gain 0.1 starts a depth-12 CNN within 0.3 nats of ln 10 (the
  claims v4 criterion: its pooled features are not normalized, so the logits
  are not as small as a normalized transformer's); gain 1 put LayerNorm 2.0
  nats above it in claims v3."""
  loss, classes = _cnn_initial_loss(norm, 0.1)
  assert abs(loss - math.log(classes)) < 0.3
  if norm == 'layernorm':
    assert _cnn_initial_loss(norm, 1.0)[0] > math.log(classes) + 0.7
