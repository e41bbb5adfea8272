"""Placements against a NumPy transformer written from the papers' formulas.

The reference shares nothing with lnexp.models but the initialised parameters:
embedding, causal multi-head attention, GELU MLP, LayerNorm and each block's
update rule are written out here, in float64.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np

from lnexp.models import model as model_lib
from lnexp.models.model import AlbertGPT, ModelConfig
from tests.conftest import tiny_config


def ln(x, p, eps=1e-5):
  mean = x.mean(-1, keepdims=True)
  return (x - mean) / np.sqrt(x.var(-1, keepdims=True) + eps) * p['scale'] + p['bias']


def attention(x, p, heads, qkv_norm=None):
  """Causal softmax attention; qkv_norm(name, a) normalizes q, k, v per head."""
  b, t, h = x.shape
  k = h // heads
  qkv = (x @ p['qkv']['kernel'].reshape(h, -1) + p['qkv']['bias'].reshape(-1))
  q, key, v = (qkv.reshape(b, t, 3, heads, k)[:, :, i] for i in range(3))
  if qkv_norm:
    q, key, v = qkv_norm('q_norm', q), qkv_norm('k_norm', key), qkv_norm('v_norm', v)
  logits = np.einsum('btnk,bsnk->bnts', q, key) / np.sqrt(k)
  logits = np.where(np.tril(np.ones((t, t), bool)), logits, -np.inf)
  probs = np.exp(logits - logits.max(-1, keepdims=True))
  probs /= probs.sum(-1, keepdims=True)
  heads_out = np.einsum('bnts,bsnk->btnk', probs, v).reshape(b, t, h)
  return heads_out @ p['out']['kernel'].reshape(h, h) + p['out']['bias']


def mlp(x, p):
  u = x @ p['up']['kernel'] + p['up']['bias']
  gelu = 0.5 * u * (1 + np.tanh(np.sqrt(2 / np.pi) * (u + 0.044715 * u ** 3)))
  return gelu @ p['down']['kernel'] + p['down']['bias']


def forward(params, tokens, block, depth, final_norm):
  """Tied-embedding logits of `block(x, layer, layer_params)` stacked `depth` times."""
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
  x = p['token_embed'][tokens] + p['pos_embed'][:tokens.shape[1]]
  blocks = p['blocks']
  for d in range(depth):
    x = block(x, d, {**blocks['shared'], **jax.tree.map(lambda a: a[d], blocks['layers'])})
  if final_norm:
    x = ln(x, p['final_norm'])
  return x @ p['token_embed'].T / np.sqrt(p['token_embed'].shape[1])


def model_logits(depth=3, **overrides):
  """(params, tokens, logits) of a tiny model, every initialised parameter
  moved by noise (so gains, biases and gates that start equal tell apart); the
  output layer tied, as in the NumPy references below."""
  cfg = tiny_config(**{'model.num_layers': depth, 'model.tie_embeddings': True, **overrides})
  model = AlbertGPT(ModelConfig.from_config(cfg))
  rng = np.random.default_rng(0)
  tokens = rng.integers(0, 11, (4, 8)).astype(np.int32)
  ones = jnp.ones(tokens.shape, jnp.int32)
  params = model.init(jax.random.key(0), tokens, ones, ones, False)['params']
  params = jax.tree.map(lambda a: a + 0.1 * rng.normal(size=a.shape).astype(np.float32),
                        params)
  logits = model.apply({'params': params}, tokens, ones, ones, False)
  return params, tokens, np.asarray(logits)


def check(logits, reference):
  np.testing.assert_allclose(logits, reference, rtol=1e-4, atol=1e-4)


def test_peri_is_cogview_sandwich_ln():
  """Ding et al. 2021 (CogView): pre-LN plus a LayerNorm on each sublayer's
  output before the residual add, and a final LayerNorm; no norm on the
  embedding. That is Kim et al. 2025's Peri-LN without its optional
  embedding norm: one model, registered once as 'peri'."""
  def sandwich(x, _, p):
    x = x + ln(attention(ln(x, p['attn_norm']), p['attn'], 2), p['attn_out_norm'])
    return x + ln(mlp(ln(x, p['mlp_norm']), p['mlp']), p['mlp_out_norm'])
  params, tokens, logits = model_logits(**{'model.placement': 'peri', 'model.share': 'none'})
  check(logits, forward(params, tokens, sandwich, 3, final_norm=True))


def test_lns_scales_each_norm_output_by_one_over_sqrt_layer():
  """Sun et al. 2025: pre-LN, each block norm's output x 1/sqrt(l) with l the
  1-based layer (shared weights: the same block, a different factor per
  depth); the final norm unscaled."""
  def lns(x, d, p):
    x = x + attention(ln(x, p['attn_norm']) / math.sqrt(d + 1), p['attn'], 2)
    return x + mlp(ln(x, p['mlp_norm']) / math.sqrt(d + 1), p['mlp'])
  for share, depth in (('all', 6), ('none', 4)):  # a depth loop, and none (unrolled)
    params, tokens, logits = model_logits(depth, **{'model.placement': 'lns',
                                                    'model.share': share})
    check(logits, forward(params, tokens, lns, depth, final_norm=True))


def test_mixln_is_post_ln_then_pre_ln():
  """Li et al. 2024: the first floor(a L) layers post-LN, the rest pre-LN, a
  final norm; each run its own depth loop, per-depth diagnostics in order."""
  def mixln(post_layers):
    def block(x, d, p):
      if d < post_layers:
        x = ln(x + attention(x, p['attn'], 2), p['attn_norm'])
        return ln(x + mlp(x, p['mlp']), p['mlp_norm'])
      x = x + attention(ln(x, p['attn_norm']), p['attn'], 2)
      return x + mlp(ln(x, p['mlp_norm']), p['mlp'])
    return block
  for depth, fraction, share, post_layers in ((4, 0.5, 'none', 2), (6, 0.25, 'all', 1),
                                               (3, 0.0, 'all', 0), (3, 1.0, 'none', 3)):
    params, tokens, logits = model_logits(depth, **{
        'model.placement': 'mixln', 'model.mixln_post_fraction': fraction,
        'model.share': share})
    check(logits, forward(params, tokens, mixln(post_layers), depth, final_norm=True))
  cfg = tiny_config(**{'model.placement': 'mixln', 'model.mixln_post_fraction': 0.5,
                       'model.num_layers': 6})
  model = AlbertGPT(ModelConfig.from_config(cfg))
  ones = jnp.ones((2, 8), jnp.int32)
  _, sown = model.apply(model.init(jax.random.key(0), ones, ones, ones, False), ones, ones,
                        ones, False, mutable=['intermediates'])
  assert sown['intermediates']['depth/residual_rms'][0].shape == (6,)


def test_hybridnorm_normalizes_qkv_then_the_ffn_input_and_its_skip():
  """Zhuo et al. 2025: Y = X + MHA(X) with Norm on Q, K and V (per head here);
  X' = Norm(Y) + FFN(Norm(Y)); a final norm."""
  def hybrid(x, _, p):
    a = p['attn']
    x = x + attention(x, a, 2, qkv_norm=lambda name, q: ln(q, a[name]))
    h = ln(x, p['mlp_norm'])
    return h + mlp(h, p['mlp'])
  for share in ('all', 'none'):
    params, tokens, logits = model_logits(**{'model.placement': 'hybridnorm',
                                             'model.share': share})
    check(logits, forward(params, tokens, hybrid, 3, final_norm=True))


def test_admin_is_post_ln_with_a_learned_per_depth_omega_on_the_skip():
  """Liu et al. 2020: x <- LN(x * omega + f(x)), omega a vector per sublayer
  and depth (per depth with shared weights too), no final norm."""
  def admin(x, _, p):
    x = ln(x * p['attn_omega'] + attention(x, p['attn'], 2), p['attn_norm'])
    return ln(x * p['mlp_omega'] + mlp(x, p['mlp']), p['mlp_norm'])
  for share in ('all', 'attention'):
    params, tokens, logits = model_logits(**{'model.placement': 'admin', 'model.share': share})
    assert params['blocks']['layers']['attn_omega'].shape == (3, 16)
    assert 'attn_omega' not in params['blocks']['shared']
    check(logits, forward(params, tokens, admin, 3, final_norm=False))


def test_admin_omega_is_profiled_at_init(monkeypatch):
  """Transformer-Clinic's profiling, in NumPy on the profiling batch: omega_1 = 1,
  omega_{i+1}^2 = omega_i^2 E[x_i^2] + E[f_i(x_i)^2] over sublayers in order,
  x_i the sublayer's input; the stream advances with the omegas so found."""
  tokens = np.random.default_rng(5).integers(0, 11, (3, 8))
  monkeypatch.setattr(model_lib, 'admin_profile_tokens', lambda rng, v, t: tokens[:, :t])
  cfg = tiny_config(**{'model.placement': 'admin', 'model.num_layers': 3})
  model = AlbertGPT(ModelConfig.from_config(cfg))
  ones = jnp.ones((2, 8), jnp.int32)
  params = model.init(jax.random.key(0), ones, ones, ones, False)['params']
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
  blocks = p['blocks']['shared']
  x = p['token_embed'][tokens] + p['pos_embed'][:8]
  omega, found = 1.0, []
  for _ in range(3):
    for sub, f in (('attn', lambda h: attention(h, blocks['attn'], 2)),
                   ('mlp', lambda h: mlp(h, blocks['mlp']))):
      out = f(x)
      found.append(omega)
      x, omega = (ln(x * omega + out, blocks[f'{sub}_norm']),
                  math.sqrt(omega ** 2 * np.mean(x ** 2) + np.mean(out ** 2)))
  layers = p['blocks']['layers']
  got = np.stack([layers['attn_omega'], layers['mlp_omega']], 1).reshape(6, 16)
  np.testing.assert_allclose(got, np.broadcast_to(np.array(found)[:, None], (6, 16)),
                             rtol=1e-4)
  assert found[0] == 1.0 and all(b > a for a, b in zip(found, found[1:]))


def test_rezero_is_skipinit():
  """De & Smith 2020: x + a f(x) with a learned scalar per residual branch (each
  sublayer its own), no norm, no final norm."""
  def skipinit(x, _, p):
    x = x + p['attn_gate'] * attention(x, p['attn'], 2)
    return x + p['mlp_gate'] * mlp(x, p['mlp'])
  params, tokens, logits = model_logits(**{'model.placement': 'rezero', 'model.norm': 'none'})
  check(logits, forward(params, tokens, skipinit, 3, final_norm=False))


def test_rezero_calls_no_norm_so_any_norm_maps_to_none():
  """A running-statistics norm with ReZero once failed at init (no batch_stats
  were ever created): the norm is moot, and `canonical` maps it to 'none'."""
  from lnexp.models.validate import canonical
  cfg = canonical(tiny_config(**{'model.placement': 'rezero', 'model.norm': 'batchnorm'}))
  assert cfg.model.norm == 'none' and cfg.model.unembed_init == tiny_config().model.unembed_init
  ones = jnp.ones((1, 8), jnp.int32)
  assert 'batch_stats' not in AlbertGPT(ModelConfig.from_config(cfg)).init(
      jax.random.key(0), ones, ones, ones, False)


def unit(x, axis=-1):
  return x / np.linalg.norm(x, axis=axis, keepdims=True)


def test_ngpt_matches_the_papers_formulas():
  """Loshchilov et al. 2024 with matrices normalized along the embedding
  dimension in the forward pass (position rows too): h0 = Norm(embedding); per sublayer
  h <- Norm(h + |alpha| (Norm(f(h)) - h)); attention on s_qk Norm(q), s_qk Norm(k)
  with softmax scale sqrt(d_k); the MLP's up projection x s_uv sqrt(d); logits
  s_z x (h . Norm(w_v)). alpha, s_qk and s_z are used as stored x init / (1/sqrt(d))."""
  h_dim, heads = 16, 2
  k_dim, base = h_dim // heads, h_dim ** -0.5
  for share, tied in (('all', False), ('none', True)):
    params, tokens, logits = model_logits(**{
        'model.placement': 'ngpt', 'model.norm': 'none', 'model.tie_embeddings': tied,
        'model.share': share})
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    x = unit(unit(p['token_embed'])[tokens] + unit(p['pos_embed'][:8]))
    t = tokens.shape[1]
    for d in range(3):
      b = {**p['blocks']['shared'], **jax.tree.map(lambda a: a[d], p['blocks']['layers'])}
      a = b['attn']
      qkv = x @ unit(a['qkv']['kernel'], 0).reshape(h_dim, -1) + a['qkv']['bias'].reshape(-1)
      q, key, v = (qkv.reshape(4, t, 3, heads, k_dim)[:, :, i] for i in range(3))
      s_qk = a['sqk'] / base
      q, key = unit(q) * s_qk, unit(key) * s_qk
      scores = np.einsum('btnk,bsnk->bnts', q, key) * np.sqrt(k_dim)
      scores = np.where(np.tril(np.ones((t, t), bool)), scores, -np.inf)
      probs = np.exp(scores - scores.max(-1, keepdims=True))
      probs /= probs.sum(-1, keepdims=True)
      heads_out = np.einsum('bnts,bsnk->btnk', probs, v).reshape(4, t, h_dim)
      att = heads_out @ unit(a['out']['kernel'], -1).reshape(h_dim, h_dim) + a['out']['bias']
      alpha = np.abs(b['attn_alpha'] * 0.05 / base)
      x = unit(x + alpha * (unit(att) - x))
      m = b['mlp']
      u = (x @ unit(m['up']['kernel'], 0) + m['up']['bias']) * m['suv'] * np.sqrt(h_dim)
      gelu = 0.5 * u * (1 + np.tanh(np.sqrt(2 / np.pi) * (u + 0.044715 * u ** 3)))
      out = gelu @ unit(m['down']['kernel'], -1) + m['down']['bias']
      alpha = np.abs(b['mlp_alpha'] * 0.05 / base)
      x = unit(x + alpha * (unit(out) - x))
    if tied:
      ref = x @ unit(p['token_embed']).T * p['sz'] / base
    else:
      ref = (x @ unit(p['unembed']['kernel'], 0) + p['unembed']['bias']) * p['sz'] / base
    check(logits, ref)


def test_ngpt_starts_from_the_papers_values_whatever_the_norm_and_output_gain():
  """alpha 0.05, s_qk 1, s_z 1 (stored as 1/sqrt(d)), s_uv 1; model.norm and
  model.unembed_init are moot (`canonical` maps them to one point)."""
  from lnexp.models.validate import canonical
  kw = {'model.placement': 'ngpt', 'model.tie_embeddings': False}
  params, _, logits = model_logits(**kw, **{'model.unembed_init': 0.0})
  other_params, _, other_logits = model_logits(**kw, **{'model.norm': 'rmsnorm'})
  np.testing.assert_allclose(logits, other_logits, rtol=1e-6)
  assert jax.tree.structure(params) == jax.tree.structure(other_params)
  cfg = tiny_config(**{'model.placement': 'ngpt', 'model.norm': 'layernorm'})
  model = AlbertGPT(ModelConfig.from_config(cfg))
  ones = jnp.ones((1, 8), jnp.int32)
  init = model.init(jax.random.key(0), ones, ones, ones, False)['params']
  shared = init['blocks']['shared']
  for value in (shared['attn_alpha'], shared['mlp_alpha'], shared['attn']['sqk'], init['sz']):
    np.testing.assert_allclose(value, 0.25)  # 1/sqrt(16)
  np.testing.assert_allclose(shared['mlp']['suv'], 1.0)
  assert canonical(tiny_config(**{**kw, 'model.norm': 'batchnorm'})).model.norm == 'none'
  assert canonical(tiny_config(**kw, **{'model.unembed_init': 0.0})).model.unembed_init == \
      tiny_config().model.unembed_init  # the default
