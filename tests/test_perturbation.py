"""Claim 4's perturbation metric (lnexp.measure.perturbation) against hand computations."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lnexp.data.base import rows_to_batch
from lnexp.measure import perturbation
from lnexp.models.model import AlbertGPT, ModelConfig
from tests.conftest import tiny_config

H, HEADS, V = 16, 2, 11


def _setup(depth=2, seed=0, **overrides):
  cfg = ModelConfig.from_config(tiny_config(**{'model.num_layers': depth,
                                               'model.tie_embeddings': True, **overrides}))
  # Two documents in row 0 (BOS=1 mid-row), padding at the end of row 1.
  rows = np.array([[1, 5, 6, 7, 1, 8, 9, 3, 4],
                   [1, 3, 3, 4, 5, 6, 0, 0, 0],
                   [1, 10, 9, 8, 7, 6, 5, 4, 3],
                   [1, 4, 4, 4, 4, 4, 4, 4, 4]])
  batch = {k: jnp.asarray(v) for k, v in rows_to_batch(rows).items()}
  model = AlbertGPT(cfg)
  variables = jax.jit(model.init, static_argnums=4)(
      jax.random.key(seed), batch['inputs'], batch['segment_ids'], batch['input_mask'],
      False)
  variables = {k: v for k, v in variables.items() if k in ('params', 'batch_stats')}
  direction = jax.random.normal(jax.random.key(seed + 1), batch['inputs'].shape + (H,))
  return cfg, model, variables, batch, direction


def _np_kl(zp, zq):
  """KL(p || q) per token, float64, straight from the definition."""
  zp, zq = np.asarray(zp, np.float64), np.asarray(zq, np.float64)
  lp = zp - zp.max(-1, keepdims=True)
  lp -= np.log(np.exp(lp).sum(-1, keepdims=True))
  lq = zq - zq.max(-1, keepdims=True)
  lq -= np.log(np.exp(lq).sum(-1, keepdims=True))
  return (np.exp(lp) * (lp - lq)).sum(-1)


def _np_gelu(x):
  return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _np_forward(params, batch, depth, delta=None, after=1):
  """norm=none, placement=pre, share=none, learned positions, tied embeddings:
  (logits, streams [L, B, T, H]) in float64, delta added after block `after`."""
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
  tokens, seg = np.asarray(batch['inputs']), np.asarray(batch['segment_ids'])
  b, t = tokens.shape
  x = p['token_embed'][tokens] + p['pos_embed'][:t]
  allowed = np.tril(np.ones((t, t), bool)) & (seg[:, :, None] == seg[:, None, :])
  streams = []
  for d in range(depth):
    layer = jax.tree.map(lambda a: a[d], p['blocks']['layers'])
    qkv = np.einsum('bth,hcnk->btcnk', x, layer['attn']['qkv']['kernel'])
    qkv = qkv + layer['attn']['qkv']['bias']
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    s = np.einsum('btnk,bsnk->bnts', q, k) / math.sqrt(H // HEADS)
    s = np.where(allowed[:, None], s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    o = np.einsum('bnts,bsnk->btnk', w, v)
    x = x + np.einsum('btnk,nkh->bth', o, layer['attn']['out']['kernel']) + \
        layer['attn']['out']['bias']
    h = _np_gelu(x @ layer['mlp']['up']['kernel'] + layer['mlp']['up']['bias'])
    x = x + h @ layer['mlp']['down']['kernel'] + layer['mlp']['down']['bias']
    if delta is not None and d == after - 1:
      x = x + delta
    streams.append(x)
  return x @ p['token_embed'].T / math.sqrt(H), np.stack(streams)


def _np_rel_dev(x, y, mask):
  r = np.linalg.norm(y - x, axis=-1) / np.linalg.norm(x, axis=-1)
  return (r * mask).sum() / mask.sum()


def _np_delta(x, direction, mask, eps):
  u = np.asarray(direction, np.float64)
  u = u / np.linalg.norm(u, axis=-1, keepdims=True)
  return eps * (np.linalg.norm(x, axis=-1) * mask)[..., None] * u


def test_matches_a_numpy_forward_of_an_unshared_norm_free_model():
  depth, after, eps = 3, 1, 1e-2
  cfg, model, variables, batch, direction = _setup(
      depth, **{'model.norm': 'none', 'model.placement': 'pre', 'model.share': 'none'})
  mask = np.asarray(batch['input_mask'], np.float64)
  logits, streams = _np_forward(variables['params'], batch, depth)
  np.testing.assert_allclose(
      jax.jit(model.apply)(variables, batch['inputs'], batch['segment_ids'],
                           batch['input_mask']), logits, rtol=1e-4, atol=1e-4)
  delta = _np_delta(streams[after - 1], direction, mask, eps)
  logits_p, streams_p = _np_forward(variables['params'], batch, depth, delta, after)
  want_dev = [_np_rel_dev(x, y, mask) for x, y in zip(streams, streams_p)]
  want_kl = (_np_kl(logits, logits_p) * mask).sum() / mask.sum()
  got = perturbation.response(cfg, variables, batch, direction, eps, after)
  assert want_dev[0] == pytest.approx(eps, rel=1e-12)  # the injection's own size
  assert want_dev[-1] != pytest.approx(eps, rel=1e-2)  # the later blocks change it
  np.testing.assert_allclose(got['rel_dev_L'], want_dev, rtol=1e-4)
  np.testing.assert_allclose(got['amplification'], want_dev[-1] / eps, rtol=1e-4)
  np.testing.assert_allclose(got['kl'], want_kl, rtol=1e-3)


@pytest.mark.parametrize('scale', [1e-5, 1e-2, 0.3, 30.0])
def test_kl_matches_the_definition(scale):
  rng = np.random.default_rng(0)
  zp = (3 * rng.normal(size=(4, 5, 35))).astype(np.float32)
  zq = (zp + scale * rng.normal(size=zp.shape)).astype(np.float32)
  want = _np_kl(zp, zq)  # of the float32 inputs, computed in float64
  got = np.asarray(perturbation.kl_from_logits(jnp.asarray(zp), jnp.asarray(zq)))
  np.testing.assert_allclose(got, want, rtol=1e-3)
  assert want.min() > 0


def test_zero_noise_gives_zero_deviation_and_kl_and_the_models_logits():
  cfg, model, variables, batch, direction = _setup(
      3, **{'model.norm': 'batchnorm', 'model.placement': 'post', 'model.share': 'none'})
  got = perturbation.response(cfg, variables, batch, direction, 0.0, 1)
  np.testing.assert_array_equal(got['rel_dev_L'], 0.0)
  assert got['kl'] == 0.0
  def apply(perturb):
    return model.apply(variables, batch['inputs'], batch['segment_ids'],
                       batch['input_mask'], True, perturb=perturb, mutable=['batch_stats'])[0]

  plain, zero = jax.jit(lambda: (apply(None), apply((jnp.zeros(3), direction))))()
  np.testing.assert_array_equal(plain, zero)


def test_identity_blocks_pass_the_error_on_unchanged():
  """ReZero at init: every block is the identity, so rel_dev is eps from the
  injection on, and the logits move by delta @ E^T / sqrt(E) (tied output)."""
  depth, after, eps = 3, 2, 1e-3
  cfg, model, variables, batch, direction = _setup(
      depth, **{'model.norm': 'none', 'model.placement': 'rezero'})
  mask = np.asarray(batch['input_mask'], np.float64)
  got = perturbation.response(cfg, variables, batch, direction, eps, after)
  np.testing.assert_allclose(got['rel_dev_L'], [0.0, eps, eps], rtol=1e-5)
  assert got['amplification'] == pytest.approx(1.0, rel=1e-5)
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), variables['params'])
  x = p['token_embed'][np.asarray(batch['inputs'])] + p['pos_embed'][:8]
  logits = x @ p['token_embed'].T / math.sqrt(H)
  delta = _np_delta(x, direction, mask, eps)
  want_kl = (_np_kl(logits, logits + delta @ p['token_embed'].T / math.sqrt(H))
             * mask).sum() / mask.sum()
  assert got['kl'] == pytest.approx(want_kl, rel=1e-3)


def test_post_ln_stream_norm_is_fixed_but_its_relative_error_is_not():
  """Post-LN: rms(x_L) / rms(x_1) = 1 by construction, whatever the weights.
  With zeroed branches every block is LN(LN(x)), so the error after block 2
  is LN(x_1 + delta) - x_1 (computed by hand below); trained-like random
  branches change it further. Two post-LN models, one RMS ratio, two answers."""
  depth, eps = 2, 1e-3
  cfg, model, variables, batch, direction = _setup(
      depth, **{'model.norm': 'layernorm', 'model.placement': 'post'})
  mask = np.asarray(batch['input_mask'], np.float64)
  zeroed = jax.tree.map(lambda a: a, variables)
  shared = zeroed['params']['blocks']['shared']
  for sub, name in (('attn', 'out'), ('mlp', 'down')):
    shared[sub][name] = jax.tree.map(jnp.zeros_like, shared[sub][name])
  plain = perturbation.response(cfg, variables, batch, direction, eps, 1)
  flat = perturbation.response(cfg, zeroed, batch, direction, eps, 1)
  for out in (plain, flat):
    assert out['rms_ratio'] == pytest.approx(1.0, abs=1e-5)

  def ln(x):
    x = x - x.mean(-1, keepdims=True)
    return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-5)

  p = jax.tree.map(lambda a: np.asarray(a, np.float64), variables['params'])
  x1 = ln(ln(p['token_embed'][np.asarray(batch['inputs'])] + p["pos_embed"][:8]))
  x2_perturbed = ln(ln(x1 + _np_delta(x1, direction, mask, eps)))
  want = _np_rel_dev(ln(ln(x1)), x2_perturbed, mask) / eps
  assert flat['amplification'] == pytest.approx(want, rel=1e-3)
  assert want < 1  # LayerNorm removes the error's mean and radial parts
  assert abs(plain['amplification'] - flat['amplification']) > 0.05


def test_at_init_tabulates_every_kind_of_variant():
  variants = {
      'post-BN': {'model.norm': 'batchnorm', 'model.placement': 'post',
                  'model.share': 'none'},
      'deepnorm': {'model.norm': 'layernorm', 'model.placement': 'deepnorm',
                   'model.share': 'attention'},
  }
  base = tiny_config(**{'model.vocab_size': -1})  # the data's (35 > tiny's 11)
  df = perturbation.at_init(variants, depths=(3,), seeds=(0,), base=base)
  assert list(df.columns[:5]) == ['variant', 'depth', 'seed', 'eps', 'amplification']
  assert len(df) == 2 and np.isfinite(df[['amplification', 'kl']].to_numpy()).all()
  amp = df.set_index('variant')['amplification']
  for name in ('post-BN', 'deepnorm'):
    assert amp[name] != pytest.approx(1.0, abs=1e-2)
    assert df.set_index('variant')['rms_ratio'][name] == pytest.approx(1.0, abs=1e-4)
  single = perturbation.at_init(
      {'rmsnorm/peri': {'model.norm': 'rmsnorm', 'model.placement': 'peri'}},
      depths=(2,), seeds=(0, 1), base=base)
  assert set(single['variant']) == {'rmsnorm/peri'} and list(single['seed']) == [0, 1]
  assert single['amplification'].nunique() == 2  # the seed changes init, batch, noise
