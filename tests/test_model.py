"""AlbertGPT: causality, parameter counts, depth, bad input."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lnexp import config as config_lib
from lnexp.errors import ConfigError
from lnexp.models.model import AlbertGPT, Attention, ModelConfig, attention_mask, query_blocks
from lnexp.models.validate import CHOICES, validate
from tests.conftest import tiny_config


def _model(**overrides):
  return AlbertGPT(ModelConfig.from_config(tiny_config(**overrides)))


def _init(model, b=4, t=8):
  tokens = jnp.ones((b, t), jnp.int32)
  return jax.jit(model.init, static_argnums=4)(jax.random.key(0), tokens, tokens,
                                                tokens, False)


def _shapes(model, b=4, t=8):
  tokens = jnp.ones((b, t), jnp.int32)
  return jax.eval_shape(lambda rng: model.init(rng, tokens, tokens, tokens, False),
                        jax.random.key(0))


def _count(variables, prefix=''):
  flat = jax.tree_util.tree_flatten_with_path(variables['params'])[0]
  return sum(v.size for p, v in flat if jax.tree_util.keystr(p).startswith(prefix))


CAUSAL_CASES = [
    ('layernorm', 'post', 'all'), ('layernorm', 'pre', 'none'),
    ('layernorm', 'peri', 'attention'), ('rmsnorm', 'post', 'ffn'),
    ('rmsnorm', 'pre', 'all'), ('dyt', 'peri', 'all'), ('dyt', 'post', 'none'),
    ('none', 'pre', 'all'), ('batchnorm', 'post', 'all'),
    ('batchnorm', 'pre', 'none'), ('batchnorm', 'peri', 'ffn'),
    ('scalenorm', 'post', 'all'), ('scalenorm', 'peri', 'none'),
    ('powernorm', 'post', 'all'), ('powernorm', 'pre', 'none'),
    ('none', 'rezero', 'all'), ('layernorm', 'deepnorm', 'attention'),
    ('layernorm_simple', 'post', 'all'), ('detachnorm', 'pre', 'none'),
    ('derf', 'pre', 'all'), ('derf', 'post', 'none'),
    ('layernorm', 'lns', 'all'), ('rmsnorm', 'lns', 'none'),
    ('rmsnorm', 'hybridnorm', 'all'), ('batchnorm', 'hybridnorm', 'none'),
    ('layernorm', 'admin', 'all'), ('batchnorm', 'admin', 'ffn'),
]


def _logits(model, variables, tokens, segment_ids):
  mask = jnp.ones(tokens.shape, jnp.float32)
  out, _ = jax.jit(model.apply, static_argnums=4, static_argnames='mutable')(
      variables, tokens, segment_ids, mask, True, mutable=('batch_stats',))
  return np.asarray(out)


def _suffix_change(model, t_cut=4):
  variables = _init(model)
  rng = np.random.default_rng(0)
  tokens = rng.integers(0, 11, (4, 8)).astype(np.int32)
  changed = tokens.copy()
  changed[:, t_cut + 1:] = (changed[:, t_cut + 1:] + 1) % 11
  seg = np.ones_like(tokens)
  a, b = _logits(model, variables, tokens, seg), _logits(model, variables, changed, seg)
  return np.abs(a[:, :t_cut + 1] - b[:, :t_cut + 1]).max(), np.abs(a - b).max()


@pytest.mark.parametrize('norm,placement,share', CAUSAL_CASES)
def test_changing_future_tokens_leaves_past_logits(norm, placement, share):
  model = _model(**{'model.norm': norm, 'model.placement': placement,
                    'model.share': share, 'model.pos': 'learned'})
  past, total = _suffix_change(model)
  assert total > 1e-3  # the change does reach later positions
  assert past < 1e-5


# Zoo placements whose structure the (norm, placement, share) rows above miss.
ZOO_CAUSAL = [
    {'model.placement': 'mixln', 'model.mixln_post_fraction': 0.5, 'model.num_layers': 4},
    {'model.placement': 'mixln', 'model.mixln_post_fraction': 0.25, 'model.num_layers': 6,
     'model.norm': 'batchnorm', 'model.share': 'none'},
    {'model.placement': 'ngpt', 'model.norm': 'none', 'model.tie_embeddings': False},
    {'model.placement': 'ngpt', 'model.norm': 'none', 'model.share': 'none',
     'model.pos': 'rope'},
]


@pytest.mark.parametrize('overrides', ZOO_CAUSAL)
def test_zoo_changing_future_tokens_leaves_past_logits(overrides):
  past, total = _suffix_change(_model(**overrides))
  assert total > 1e-3 and past < 1e-5


def test_mixln_fraction_outside_zero_one_is_a_one_line_error():
  with pytest.raises(ConfigError,
                     match=r'^model.mixln_post_fraction=1.5 must be in \[0, 1\]$'):
    validate(tiny_config(**{'model.mixln_post_fraction': 1.5}))


def test_qk_norm_is_refused_with_hybridnorm_in_one_line():
  with pytest.raises(ConfigError, match=r"^model.qk_norm=True is moot with "
                     r"model.placement='hybridnorm', which normalizes q, k and v"):
    validate(tiny_config(**{'model.qk_norm': True, 'model.placement': 'hybridnorm'}))


def test_rope_and_qk_norm_are_causal():
  past, total = _suffix_change(_model(**{'model.pos': 'rope', 'model.qk_norm': True}))
  assert total > 1e-3 and past < 1e-5


def test_batchnorm_over_batch_and_time_leaks_the_future():
  past, _ = _suffix_change(_model(**{'model.norm': 'batchnorm',
                                     'model.bn_axes': 'batch_time'}))
  assert past > 1e-4


def test_attention_does_not_cross_documents():
  model = _model(**{'model.norm': 'layernorm', 'model.placement': 'pre'})
  variables = _init(model)
  tokens = np.random.default_rng(1).integers(0, 11, (4, 8)).astype(np.int32)
  seg = np.array([[1] * 3 + [2] * 5] * 4, np.int32)
  changed = tokens.copy()
  changed[:, :3] = (changed[:, :3] + 1) % 11   # change document 1 only
  a, b = _logits(model, variables, tokens, seg), _logits(model, variables, changed, seg)
  np.testing.assert_allclose(a[:, 3:], b[:, 3:], atol=1e-5)


def test_shared_params_do_not_grow_with_depth_and_unshared_grow_linearly():
  counts = {d: _count(_shapes(_model(**{'model.num_layers': d}))) for d in (2, 24)}
  assert counts[2] == counts[24]
  unshared = [_count(_shapes(_model(**{'model.num_layers': d, 'model.share': 'none'})))
              for d in (2, 4, 6)]
  assert unshared[1] - unshared[0] == unshared[2] - unshared[1] > 0
  for share in ('attention', 'ffn'):
    c = [_count(_shapes(_model(**{'model.num_layers': d, 'model.share': share})))
         for d in (2, 4)]
    assert counts[2] < c[0] < unshared[0] and c[0] < c[1] < unshared[1]


def test_factorized_embedding_counts_v_e_plus_e_h():
  variables = _shapes(_model(**{'model.embed_dim': 4, 'model.pos': 'rope',
                                  'model.tie_embeddings': True}))
  v, e, h = 11, 4, 16
  assert variables['params']['token_embed'].shape == (v, e)
  assert _count(variables, "['token_embed']") + _count(variables, "['embed_proj']") == \
      v * e + e * h
  assert 'unembed' not in variables['params']  # tied output


def test_depth_48_shared_compiles_forward_and_backward():
  model = _model(**{'model.num_layers': 48})
  variables = _init(model)
  tokens = jnp.ones((2, 8), jnp.int32)

  @jax.jit
  def loss_and_grad(params):
    return jax.value_and_grad(
        lambda p: model.apply({'params': p}, tokens, tokens, tokens).mean())(params)

  loss, grads = loss_and_grad(variables['params'])
  assert np.isfinite(float(loss))
  assert all(np.isfinite(g).all() for g in jax.tree.leaves(grads))


def test_batchnorm_keeps_per_depth_running_stats_unless_shared():
  per_depth = _shapes(_model(**{'model.norm': 'batchnorm', 'model.num_layers': 3}))
  assert per_depth['batch_stats']['blocks']['attn_norm']['mean'].shape == (3, 16)
  shared = _shapes(_model(**{'model.norm': 'batchnorm', 'model.num_layers': 3,
                           'model.bn_share_stats': True}))
  assert shared['batch_stats']['blocks']['attn_norm']['mean'].shape == (16,)


@pytest.mark.parametrize('key,value', [
    ('model.norm', 'groupnorm'), ('model.placement', 'middle'),
    ('model.share', 'some'), ('model.bn_axes', 'time')])
def test_unknown_choice_names_key_and_options(key, value):
  cfg = tiny_config(**{key: value})
  with pytest.raises(ConfigError) as e:
    validate(cfg)
  msg = str(e.value)
  assert key in msg and value in msg
  assert all(opt in msg for opt in CHOICES[key])
  assert '\n' not in msg


def test_heads_must_divide_hidden_dim():
  with pytest.raises(ConfigError, match='model.hidden_dim=16 is not divisible by '
                     'model.num_heads=3'):
    validate(tiny_config(**{'model.num_heads': 3}))


def test_zero_heads_is_a_range_error_not_a_division_by_zero():
  with pytest.raises(ConfigError, match='model.num_heads=0 must be > 0'):
    validate(tiny_config(**{'model.num_heads': 0}))


def test_bfloat16_activations_keep_norms_in_float32():
  model = _model(**{'model.dtype': 'bfloat16', 'model.placement': 'pre'})
  variables = _init(model)
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(variables['params']))
  tokens = jnp.asarray(np.random.default_rng(0).integers(0, 11, (4, 8)), jnp.int32)
  logits = _logits(model, variables, tokens, jnp.ones_like(tokens))
  assert logits.dtype == np.float32 and np.isfinite(logits).all()


def test_cudnn_attention_call_matches_the_einsum_path(monkeypatch):
  """The fused call (its layout, mask, causal flag, scale), run here through
  jax.nn.dot_product_attention's XLA implementation, gives the einsum path's
  logits on packed documents; cuDNN itself is checked on GPU by the bench."""
  calls, fused_attention = [], jax.nn.dot_product_attention

  def through_xla(*args, implementation, **kwargs):
    calls.append(implementation)
    return fused_attention(*args, implementation='xla', **kwargs)
  model_cfg = ModelConfig.from_config(
      tiny_config(**{'model.placement': 'pre', 'model.dtype': 'bfloat16'}))
  einsum_model = AlbertGPT(model_cfg)
  fused_model = AlbertGPT(dataclasses.replace(model_cfg, attention='cudnn'))
  variables = _init(einsum_model)
  rng = np.random.default_rng(2)
  tokens = rng.integers(0, 11, (4, 8)).astype(np.int32)
  seg = np.array([[1] * 3 + [2] * 5, [1] * 8, [1, 2, 2, 2, 3, 3, 3, 3], [1] * 8], np.int32)
  monkeypatch.setattr(jax.nn, 'dot_product_attention', through_xla)
  fused = _logits(fused_model, variables, tokens, seg)
  assert calls == ['cudnn'] * 2  # layers 0 and 1 (scan_unroll: no loop at depth 2)
  np.testing.assert_allclose(fused, _logits(einsum_model, variables, tokens, seg),
                             atol=1e-6)  # XLA's formula here is the einsum path's


def test_cudnn_attention_needs_bfloat16_and_a_gpu():
  with pytest.raises(ConfigError, match='model.attention=cudnn needs model.dtype=bfloat16'):
    validate(tiny_config(**{'model.attention': 'cudnn'}))
  with pytest.raises(ConfigError, match='needs a GPU; this backend is cpu'):
    ModelConfig.from_config(tiny_config(**{'model.attention': 'cudnn',
                                           'model.dtype': 'bfloat16'}))


def test_query_blocks_cover_the_sequence():
  assert query_blocks(150) == [(0, 38), (38, 76), (76, 114), (114, 150)]
  assert query_blocks(128) == [(s, s + 32) for s in range(0, 128, 32)]
  assert query_blocks(64) == [(0, 64)] and query_blocks(8) == [(0, 8)]  # < 4 blocks
  assert query_blocks(1024) == [(s, s + 128) for s in range(0, 1024, 128)]  # at most 8


def test_blocked_attention_matches_full_numpy_attention_and_diagnostics():
  """T=150 runs four causal query blocks (38, 38, 38, 36 rows); outputs and the
  sown logit max and entropy equal full-matrix attention in NumPy with the
  causal and packed-document mask."""
  b, t, h, n = 2, 150, 16, 2
  k = h // n
  c = config_lib.apply_overrides(config_lib.base_config(), {
      'model.hidden_dim': h, 'model.num_heads': n, 'model.vocab_size': 11,
      'train.seq_len': t})
  cfg = ModelConfig.from_config(c)
  rng = np.random.default_rng(0)
  x = rng.normal(size=(b, t, h)).astype(np.float32)
  seg = np.array([[1] * 40 + [2] * 110, [1] * 100 + [2] * 50], np.int32)
  allowed = attention_mask(jnp.asarray(seg))
  attn = Attention(cfg)
  variables = attn.init(jax.random.key(0), x, allowed)
  out, sown = attn.apply(variables, x, allowed, mutable='intermediates')
  p = jax.tree.map(np.asarray, variables['params'])
  qkv = (x.reshape(b * t, h) @ p['qkv']['kernel'].reshape(h, -1)
         + p['qkv']['bias'].reshape(-1)).reshape(b, t, 3, n, k)
  q, key, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
  logits = np.einsum('btnk,bsnk->bnts', q, key) / np.sqrt(k)
  mask = np.tril(np.ones((t, t), bool))[None, None] & (seg[:, None, :, None] ==
                                                      seg[:, None, None, :])
  logits = np.where(mask, logits, -np.inf)
  probs = np.exp(logits - logits.max(-1, keepdims=True))
  probs /= probs.sum(-1, keepdims=True)
  heads = np.einsum('bnts,bsnk->btnk', probs, v).reshape(b * t, n * k)
  expected = (heads @ p['out']['kernel'].reshape(n * k, h) + p['out']['bias']).reshape(b, t, h)
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
  inter = sown['intermediates']
  np.testing.assert_allclose(inter['logit_max'][0], logits.max(), rtol=1e-5)
  entropy = -np.where(mask, probs * np.log(np.where(mask, probs, 1.0)), 0).sum(-1).mean()
  np.testing.assert_allclose(inter['entropy'][0], entropy, rtol=1e-4)


def test_rezero_starts_as_the_identity_network():
  """Every gate starts at 0, so at init the logits are the embeddings' own: the
  tied output layer applied to token + position embeddings (no final norm)."""
  model = _model(**{'model.placement': 'rezero', 'model.norm': 'none',
                    'model.tie_embeddings': True})
  variables = _init(model)
  tokens = jnp.asarray(np.random.default_rng(0).integers(0, 11, (4, 8)), jnp.int32)
  p = variables['params']
  x = np.asarray(p['token_embed'])[np.asarray(tokens)] + np.asarray(p['pos_embed'])[:8]
  want = x @ np.asarray(p['token_embed']).T * 16 ** -0.5
  np.testing.assert_allclose(_logits(model, variables, tokens, jnp.ones_like(tokens)), want,
                             rtol=1e-5, atol=1e-5)
  assert float(p['blocks']['shared']['attn_gate']) == 0.0
  assert float(p['blocks']['shared']['mlp_gate']) == 0.0


@pytest.mark.parametrize('overrides, gain_in, gain_out', [
    ({'model.placement': 'deepnorm', 'model.branch_init': 'plain'}, 16 ** -0.25,
     16 ** -0.25),  # beta = (8L)^-1/4, L=2
    ({'model.branch_init': 'gpt2'}, 1.0, 4 ** -0.5),              # 1/sqrt(2L)
    ({'model.placement': 'deepnorm', 'model.branch_init': 'gpt2'}, 16 ** -0.25,
     16 ** -0.25 * 4 ** -0.5)])
def test_branch_init_scales_the_sublayer_weights(overrides, gain_in, gain_out):
  """Kernel std = gain * 0.88 / sqrt(fan_in) (a truncated normal at 2 std keeps
  ~0.88 of the std), on a wide model so the sample std is close."""
  wide = {'model.hidden_dim': 256, 'model.embed_dim': 256, 'model.mlp_dim': 512,
          'model.num_heads': 4, 'model.share': 'all'}
  p = _init(_model(**wide, **overrides))['params']['blocks']['shared']
  trunc = 0.8796
  for name, fan_in, gain in (('attn/qkv', 256, gain_in), ('attn/out', 256, gain_out),
                             ('mlp/up', 256, gain_in), ('mlp/down', 512, gain_out)):
    group, layer = name.split('/')
    std = float(np.asarray(p[group][layer]['kernel']).std())
    assert std == pytest.approx(gain * trunc * fan_in ** -0.5, rel=0.03), name
