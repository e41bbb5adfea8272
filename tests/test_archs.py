"""LSTM and CNN (lnexp.models.lstm, lnexp.models.cnn) against NumPy, the image
sources, and what the arch registry declares (the keys each family reads)."""
import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lnexp import config as config_lib
from lnexp import run
from lnexp.data import images, make_source
from lnexp.errors import ConfigError
from lnexp.models.archs import ARCHS, COMMON_KEYS
from lnexp.models.lstm import LSTMLM
from lnexp.models.model import ModelConfig
from lnexp.models.norms import NORMS, make_image_norm
from lnexp.models.validate import canonical, validate
from tests.conftest import tiny_config
from tests.test_run import TINY


def _cfg(**overrides):
  return ModelConfig.from_config(canonical(tiny_config(**overrides)))


def _np_ln(x, eps=1e-5):
  mu = x.mean(-1, keepdims=True)
  return (x - mu) / np.sqrt(x.var(-1, keepdims=True) + eps)


def _sigmoid(x):
  return 1 / (1 + np.exp(-x))


def test_layernorm_lstm_matches_a_numpy_ba_et_al_step():
  cfg = _cfg(**{'model.arch': 'lstm', 'model.norm': 'layernorm'})
  model = LSTMLM(cfg)
  rng = np.random.default_rng(0)
  tokens = rng.integers(0, 11, (2, 3)).astype(np.int32)
  ones = np.ones((2, 3), np.int32)
  variables = model.init(jax.random.key(0), tokens, ones, ones.astype(np.float32), False)
  # Random gains and biases so each of the three norms is told apart.
  variables = jax.tree.map(lambda v: v + jnp.asarray(rng.normal(0, 0.3, v.shape)),
                           variables)
  logits = np.asarray(model.apply(variables, tokens, ones, ones.astype(np.float32), False))
  p = jax.tree.map(np.asarray, variables['params'])
  cell, hdim = p['cell'], cfg.hidden_dim
  h = c = np.zeros((2, hdim))
  for t in range(3):
    x = p['token_embed'][tokens[:, t]]
    gx = _np_ln(x @ p['input']['kernel']) * cell['x_norm']['scale'] + cell['x_norm']['bias']
    gh = _np_ln(h @ cell['hidden']['kernel']) * cell['h_norm']['scale'] + \
        cell['h_norm']['bias']
    i, f, o, g = np.split(gx + gh + cell['bias'], 4, axis=-1)
    c = _sigmoid(f + 1.0) * c + _sigmoid(i) * np.tanh(g)
    h = _sigmoid(o) * np.tanh(_np_ln(c) * cell['c_norm']['scale'] + cell['c_norm']['bias'])
    expected = h @ p['unembed']['kernel'] + p['unembed']['bias']
    np.testing.assert_allclose(logits[:, t], expected, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize('norm', ['none', 'layernorm', 'batchnorm'])
def test_lstm_is_causal_and_resets_at_document_starts(norm):
  model = LSTMLM(_cfg(**{'model.arch': 'lstm', 'model.norm': norm}))
  rng = np.random.default_rng(1)
  tokens = rng.integers(0, 11, (4, 8)).astype(np.int32)
  seg = np.array([[1] * 3 + [2] * 5] * 4, np.int32)
  mask = np.ones((4, 8), np.float32)
  variables = model.init(jax.random.key(0), tokens, seg, mask, False)

  def logits(t):
    return np.asarray(model.apply(variables, t, seg, mask, True, mutable=['batch_stats'])[0])
  future = tokens.copy()
  future[:, 5:] = (future[:, 5:] + 1) % 11
  assert np.abs(logits(tokens)[:, :5] - logits(future)[:, :5]).max() < 1e-5
  assert np.abs(logits(tokens) - logits(future)).max() > 1e-3
  first_doc = tokens.copy()
  first_doc[:, :3] = (first_doc[:, :3] + 1) % 11  # document 2 must not notice
  np.testing.assert_allclose(logits(tokens)[:, 3:], logits(first_doc)[:, 3:], atol=1e-5)


def test_lstm_batchnorm_keeps_running_statistics_per_time_step():
  model = LSTMLM(_cfg(**{'model.arch': 'lstm', 'model.norm': 'batchnorm'}))
  tokens = np.ones((4, 8), np.int32)
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), tokens, tokens,
                                             tokens.astype(np.float32), False))
  assert shapes['batch_stats']['cell']['x_norm']['mean'].shape == (8, 64)  # [T, 4H]


@pytest.mark.parametrize('norm', sorted(n for n, v in NORMS.items() if v.images))
@pytest.mark.parametrize('placement', ['post', 'pre'])
def test_every_image_norm_builds_a_two_block_cnn(norm, placement):
  """Each residual block holds two norms of one kind: their names must not clash."""
  from lnexp.models.cnn import CNN
  cfg = _cfg(**{'model.arch': 'cnn', 'model.norm': norm, 'model.placement': placement,
                'model.num_layers': 2, 'model.groups': 2, 'data.source': 'digits'})
  x = np.random.default_rng(0).normal(size=(2, 8, 8, 1)).astype(np.float32)
  variables = CNN(cfg).init(jax.random.key(0), x, train=False)
  logits, _ = CNN(cfg).apply(variables, x, train=True, mutable=['batch_stats'])
  assert np.isfinite(np.asarray(logits)).all()


@pytest.mark.parametrize('norm', ['layernorm', 'groupnorm', 'rmsnorm', 'batchnorm',
                                  'dyt', 'none'])
def test_image_norms_match_numpy(norm):
  cfg = _cfg(**{'model.arch': 'cnn', 'model.norm': norm, 'model.groups': 2,
                'data.source': 'digits'})
  x = np.random.default_rng(2).normal(1.0, 2.0, (3, 4, 5, 16)).astype(np.float32)
  layer = make_image_norm(cfg.norm, cfg, None)
  variables = layer.init(jax.random.key(0), x, True)
  y = np.asarray(layer.apply(variables, x, True, mutable=['batch_stats'])[0])
  eps = 1e-5
  if norm in ('layernorm', 'groupnorm'):
    groups = 1 if norm == 'layernorm' else 2
    xg = x.reshape(3, 4, 5, groups, 16 // groups)
    mu, var = xg.mean((1, 2, 4), keepdims=True), xg.var((1, 2, 4), keepdims=True)
    expected = ((xg - mu) / np.sqrt(var + eps)).reshape(x.shape)
  elif norm == 'rmsnorm':
    expected = x / np.sqrt(np.square(x).mean((1, 2, 3), keepdims=True) + eps)
  elif norm == 'batchnorm':
    expected = (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + eps)
  elif norm == 'dyt':
    expected = np.tanh(0.5 * x)
  else:
    expected = x
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_digits_split_is_fixed_disjoint_and_seeded():
  kwargs = dict(batch_size=8, seq_len=1, eval_batches=2, pack=True)
  a, b = images.digits(seed=0, **kwargs), images.digits(seed=1, **kwargs)
  assert a.vocab_size == 10 and a.image_shape == (8, 8, 1)
  batch = a.train_batch(3)
  assert batch['inputs'].shape == (8, 8, 8, 1) and batch['targets'].shape == (8, 1)
  assert 0 <= batch['inputs'].min() and batch['inputs'].max() <= 1
  np.testing.assert_array_equal(batch['inputs'], a.train_batch(3)['inputs'])
  assert not np.array_equal(batch['inputs'], b.train_batch(3)['inputs'])
  np.testing.assert_array_equal(a.eval_batch(1)['inputs'], b.eval_batch(1)['inputs'])
  train = {x.tobytes() for x in a._train[0]}
  assert len(a._train[1]) + len(a._test[1]) == 1797
  assert sum(x.tobytes() in train for x in a._test[0]) < 5  # the set has a few duplicates


def test_tfds_image_source_on_mock_data(tmp_path):
  import tensorflow_datasets as tfds
  cfg = tiny_config(**{'model.arch': 'cnn', 'data.source': 'tfds',
                       'data.tfds_name': 'mnist', 'train.batch_size': 4})
  with tfds.testing.mock_data(num_examples=12, data_dir=str(tmp_path)):
    source = make_source(cfg)
  assert source.vocab_size == 10 and source.train_batch(0)['inputs'].shape == (4, 28, 28, 1)
  assert source.train_batch(0)['targets'].max() < 10


def test_cnn_trains_end_to_end_through_lnexp_run(tmp_path):
  """(The LayerNorm LSTM runs end to end in the claims smoke test.)"""
  rc = run.main(['--config', TINY, '--workdir', str(tmp_path), '--config.model.arch=cnn',
                 '--config.train.steps=4', '--config.train.eval_every=4',
                 '--config.train.log_every=2', '--config.data.source=digits',
                 '--config.model.norm=groupnorm', '--config.model.groups=4',
                 # TINY's transformer widths, which a CNN does not read: their defaults
                 '--config.model.embed_dim=128', '--config.model.mlp_dim=512'])
  assert rc == 0
  rows = [json.loads(line) for line in open(tmp_path / 'results.jsonl')]
  assert len(rows) == 3 and all(r['steps'] == 4 for r in rows)
  ok = [r for r in rows if r['status'] == 'ok']
  assert ok and all(np.isfinite(r['final_eval_loss']) for r in ok)
  assert all(0 <= r['final_eval_accuracy'] <= 1 for r in ok)
  metrics = [json.loads(line) for line in open(tmp_path / 'metrics' /
                                               f"{rows[0]['point_id']}.jsonl")]
  assert 'depth/residual_rms' in metrics[0]


def test_lstm_time_probes_measure_the_hidden_state_gradient():
  from lnexp.train.optimizer import OptimConfig
  from lnexp.train.steps import LaneFns, token_losses
  cfg = canonical(tiny_config(**{'model.arch': 'lstm', 'model.vocab_size': 35}))
  fns = LaneFns(ModelConfig.from_config(cfg), OptimConfig.from_config(cfg), 10, 1e9)
  batch = jax.tree.map(jnp.asarray, make_source(cfg).train_batch(0))
  hp = {'lr': 1e-3, 'warmup_steps': 0.0, 'weight_decay': 0.0, 'z_loss': 0.0,
        'clip_norm': 0.0, 'seed': 0, 'init_scale': 1.0, 'dyt_alpha_init': 0.5}
  state = {**jax.jit(fns.init)(hp, batch), 'init_loss': jnp.float32(1e9)}
  _, metrics = jax.jit(lambda s, h, b: fns.train_step(s, h, b, diagnose=True))(state, hp, batch)
  flow_T = np.asarray(metrics['time/grad_flow'])
  assert flow_T.shape == (8,) and np.all(flow_T > 0)
  # The last hidden state reaches the loss only through the last output layer.
  params = state['params']
  logits = fns.model.apply({'params': params}, batch['inputs'], batch['segment_ids'],
                           batch['input_mask'], False)
  mask = batch['loss_mask']
  dlogits = jax.grad(lambda z: (token_losses(z, batch['targets'])[0] * mask).sum()
                     / mask.sum())(logits)[:, -1]
  expected = np.linalg.norm(np.asarray(dlogits) @ np.asarray(params['unembed']['kernel']).T)
  assert flow_T[-1] == pytest.approx(expected, rel=1e-4)


# A value for every model.* key other than its default (a model must accept it).
OTHER = {'placement': 'pre', 'share': 'none', 'num_layers': 3, 'embed_dim': 8,
         'num_heads': 4, 'mlp_dim': 8, 'qk_norm': True, 'pos': 'rope', 'embed_scale': 0.5,
         'tie_embeddings': False, 'bn_axes': 'batch_time', 'bn_share_stats': True,
         'dyt_alpha_init': 0.9, 'groups': 2, 'dtype': 'bfloat16', 'attention': 'cudnn',
         'derf_alpha_init': 0.9, 'mixln_post_fraction': 0.5,
         'scan_unroll': 1, 'branch_init': 'gpt2', 'unembed_init': 0.5}


def test_every_model_key_is_read_by_some_arch():
  keys = set(config_lib.base_config().model) - {'arch', 'vocab_size'}
  read = set().union(*(arch.reads for arch in ARCHS.values()))
  assert read == keys and keys - set(COMMON_KEYS) <= set(OTHER)


@pytest.mark.parametrize('arch', sorted(ARCHS))
def test_keys_an_arch_does_not_read_leave_its_model_unchanged(arch):
  """What `Arch.reads` leaves out, changed all at once: the same parameters and
  logits (so refusing those keys away from their defaults loses nothing)."""
  norm = 'batchnorm'  # reads the most keys (momentum, axes, per-depth statistics)
  cfg = _cfg(**{'model.arch': arch, 'model.norm': norm})
  unread = {k: v for k, v in OTHER.items() if k not in ARCHS[arch].reads}
  assert unread
  x = (np.random.default_rng(0).normal(size=(2, 8, 8, 1)).astype(np.float32)
       if ARCHS[arch].images else np.arange(16, dtype=np.int32).reshape(2, 8) % 11)
  ones = np.ones((2, x.shape[1] if x.ndim == 2 else 1), np.float32)
  outputs = []
  for model_cfg in (cfg, dataclasses.replace(cfg, **unread)):
    model = ARCHS[arch].model(model_cfg)
    variables = model.init(jax.random.key(0), x, ones.astype(np.int32), ones, False)
    outputs.append((variables, model.apply(variables, x, ones.astype(np.int32), ones,
                                           True, mutable=['batch_stats'])[0]))
  (a, logits_a), (b, logits_b) = outputs
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for u, v in zip(jax.tree.leaves((a, logits_a)), jax.tree.leaves((b, logits_b))):
    np.testing.assert_array_equal(u, v)


def test_a_setting_an_arch_does_not_read_is_refused_unless_default(tmp_path, capsys):
  lstm = {'model.arch': 'lstm', 'data.source': 'python_docs'}
  for default in ({}, {'model.placement': 'post'}, {'model.share': 'all'}):
    validate(config_lib.apply_overrides(config_lib.base_config(), {**lstm, **default}))
  with pytest.raises(ConfigError) as e:
    validate(config_lib.apply_overrides(config_lib.base_config(),
                                        {**lstm, 'model.placement': 'peri'}))
  assert str(e.value) == ("model.placement='peri' is not available with model.arch='lstm',"
                          " which does not read it (leave it at 'post')")
  rc = run.main(['--config', 'configs/default.py', '--workdir', str(tmp_path / 'w'),
                 '--config.model.arch=lstm', '--config.model.placement=peri'])
  err = capsys.readouterr().err
  assert rc == 2 and err.count('\n') == 1 and "model.placement='peri'" in err
  assert not (tmp_path / 'w').exists()
