"""Each diagnostic against an independent computation on a tiny model."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lnexp.data import make_source
from lnexp.measure import diagnostics
from lnexp.models import probes
from lnexp.models.model import ModelConfig, attention_mask
from lnexp.models.probes import masked_token_mean
from lnexp.train.optimizer import OptimConfig
from lnexp.train.steps import LaneFns, token_losses
from tests.conftest import tiny_config

HP = {'lr': 1e-3, 'warmup_steps': 0.0, 'weight_decay': 0.0, 'z_loss': 0.0,
      'clip_norm': 1.0, 'seed': 0, 'init_scale': 1.0, 'dyt_alpha_init': 0.5}


def _setup(**overrides):
  cfg = tiny_config(**{'model.vocab_size': 35, **overrides})
  source = make_source(cfg)
  fns = LaneFns(ModelConfig.from_config(cfg), OptimConfig.from_config(cfg), 10, 1e9)
  batch = jax.tree.map(jnp.asarray, source.train_batch(0))
  state = {**jax.jit(fns.init)(HP, batch), 'init_loss': jnp.float32(1.0)}  # never 'exploded'
  return fns, state, batch


def _diag(fns, state, batch):
  new_state, metrics = jax.jit(lambda s, b: fns.train_step(s, HP, b, True))(state, batch)
  return new_state, {k: np.asarray(v) for k, v in metrics.items()}


def _apply(fns, state, batch, **kw):
  return fns.model.apply({'params': state['params'], 'batch_stats': state['batch_stats']},
                         batch['inputs'], batch['segment_ids'], batch['input_mask'],
                         True, mutable=['batch_stats'], **kw)


@pytest.mark.parametrize('placement,share', [('pre', 'all'), ('post', 'none')])
def test_grad_flow_probe_equals_norm_of_full_residual_gradient(placement, share,
                                                              monkeypatch):
  fns, state, batch = _setup(**{'model.placement': placement, 'model.share': share,
                                'model.num_layers': 3})
  _, metrics = _diag(fns, state, batch)

  def loss(delta):  # additive zero tensors at each depth's output: O(L*B*T*H)
    logits, _ = _apply(fns, state, batch, grad_probes_L=delta)
    return masked_token_mean(token_losses(logits, batch['targets'])[0], batch['loss_mask'])

  monkeypatch.setattr(probes, 'grad_probe', lambda x, d: x + d)
  full = jax.grad(loss)(jnp.zeros((3,) + batch['inputs'].shape + (16,)))
  expected = np.sqrt((np.asarray(full) ** 2).reshape(3, -1).sum(1))
  np.testing.assert_allclose(metrics['depth/grad_flow'], expected, rtol=1e-4)


def test_attention_logit_max_and_entropy_match_explicit_computation():
  fns, state, batch = _setup(**{'model.placement': 'pre', 'model.num_layers': 1,
                                'model.pos': 'rope'})
  _, metrics = _diag(fns, state, batch)
  p = state['params']
  blk = p['blocks']['shared']
  x = np.asarray(p['token_embed'])[np.asarray(batch['inputs'])]        # E == H
  h = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
  qkv = np.einsum('bth,hcnk->btcnk', h, blk['attn']['qkv']['kernel']) + \
      blk['attn']['qkv']['bias']
  from lnexp.models.model import rope
  q, k = np.asarray(rope(qkv[:, :, 0])), np.asarray(rope(qkv[:, :, 1]))
  logits = np.einsum('btnk,bsnk->bnts', q, k) / np.sqrt(8)
  allowed = np.asarray(attention_mask(batch['segment_ids']))
  assert metrics['depth/attn/logit_max'][0] == pytest.approx(
      np.where(allowed, logits, -np.inf).max(), rel=1e-4)
  z = np.where(allowed, logits, -np.inf)
  probs = np.exp(z - z.max(-1, keepdims=True))
  probs /= probs.sum(-1, keepdims=True)
  entropy = -(np.where(probs > 0, probs * np.log(np.where(probs > 0, probs, 1)), 0)).sum(-1)
  assert metrics['depth/attn/entropy'][0] == pytest.approx(entropy.mean(), rel=1e-4)


def test_output_log_z_and_post_ln_residual_rms():
  fns, state, batch = _setup(**{'model.placement': 'post', 'model.num_layers': 3})
  _, metrics = _diag(fns, state, batch)
  logits, _ = _apply(fns, state, batch)
  logz = jax.nn.logsumexp(logits, -1)
  mask = np.asarray(batch['loss_mask'])
  assert metrics['output_log_z'] == pytest.approx(
      (np.asarray(logz) * mask).sum() / mask.sum(), rel=1e-5)
  assert metrics['output_logit_max'] == pytest.approx(float(logits.max()), rel=1e-5)
  # Post-LN with unit gain and zero bias at init: each depth's output has RMS 1.
  np.testing.assert_allclose(metrics['depth/residual_rms'], 1.0, atol=1e-3)
  assert metrics['depth/transition_cos'].shape == (3,)


def test_sublayer_input_moments_are_what_the_sublayer_sees():
  """Pre-LN: the sublayer sees the LayerNorm output (per token mean 0, variance
  ~1 at init); in x + f(N(x)) without a norm it sees the residual stream, the
  norm site's input (in post placement the norm site sees x + f(x) instead)."""
  fns, state, batch = _setup(**{'model.placement': 'pre', 'model.num_layers': 2})
  _, m = _diag(fns, state, batch)
  np.testing.assert_allclose(m['depth/attn_sub_in_mean'], 0.0, atol=1e-5)
  np.testing.assert_allclose(m['depth/attn_sub_in_var'], 1.0, atol=1e-3)
  assert not np.allclose(m['depth/attn_norm_in_var'], 1.0, atol=1e-2)
  fns, state, batch = _setup(**{'model.norm': 'none', 'model.placement': 'pre',
                                'model.num_layers': 2})
  _, m = _diag(fns, state, batch)
  for key in ('in_mean', 'in_var', 'feat_mean', 'feat_var'):
    np.testing.assert_allclose(m[f'depth/attn_sub_{key}'], m[f'depth/attn_norm_{key}'],
                               rtol=1e-6)


def test_batchnorm_distance_at_first_step_is_batch_mean_over_d():
  fns, state, batch = _setup(**{'model.norm': 'batchnorm', 'model.placement': 'pre',
                                'model.num_layers': 2})
  _, metrics = _diag(fns, state, batch)
  # Running mean starts at 0, so (1/d)||mu_B - mu_run|| = ||mu_B|| / d, where mu_B
  # is the norm input's per-feature mean (a separate computation).
  feat_mean = metrics['depth/attn_norm_feat_mean']                   # [L, D]
  np.testing.assert_allclose(metrics['depth/attn_norm/bn_mean_dist'],
                             np.linalg.norm(feat_mean, axis=-1) / 16, rtol=1e-4)


def test_diagnostic_step_updates_state_like_the_plain_step():
  # SGD: post-BatchNorm removes constant shifts, so the biases before it (and
  # the key bias) have exactly-zero gradients; Adam would scale the two
  # programs' different rounding noise in them up to full-size steps.
  fns, state, batch = _setup(**{'model.norm': 'batchnorm', 'optim.name': 'sgd'})
  plain, _ = jax.jit(lambda s, b: fns.train_step(s, HP, b))(state, batch)
  diag, _ = _diag(fns, state, batch)
  for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(diag)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def _last_ffn_grad(placement, depth):
  """The last block's MLP gradient norm at init, by `diagnostics.layer_grad_norms`
  (checked against the leaves by hand); a plain gradient, not a diagnostic
  step, and one layer per scan iteration, so depth 12 compiles in about 2 s."""
  fns, state, batch = _setup(**{'model.placement': placement, 'model.share': 'none',
                                'model.num_layers': depth, 'train.batch_size': 8,
                                'model.scan_unroll': 1})
  grads = jax.jit(jax.grad(lambda p: fns.loss(p, state['batch_stats'], HP, batch,
                                              True)[0]))(state['params'])
  norms = np.asarray(diagnostics.layer_grad_norms(grads['blocks']['layers'])[
      'layer_grad_norm/mlp'])
  by_hand = np.sqrt(sum(np.square(np.asarray(x)[-1]).sum()
                        for x in jax.tree.leaves(grads['blocks']['layers']['mlp'])))
  assert norms.shape == (depth,) and norms[-1] == pytest.approx(by_hand, rel=1e-5)
  return norms[-1]


def test_xiong_post_ln_last_layer_gradient_outgrows_pre_ln_with_depth():
  """Xiong et al. 2020: post-LN's last-layer gradient does not shrink with depth,
  pre-LN's falls like 1/sqrt(L), so their ratio grows with depth at init."""
  ratio = {d: _last_ffn_grad('post', d) / _last_ffn_grad('pre', d) for d in (2, 12)}
  assert ratio[12] > ratio[2]


def test_santurkar_ics_of_the_first_layer_matches_a_manual_update():
  fns, state, batch = _setup(**{'model.share': 'none', 'model.num_layers': 3,
                                'model.placement': 'pre'})
  out = jax.jit(lambda s, b: fns.santurkar_ics(s, HP, b))(state, batch)
  ics, rel = np.asarray(out['ics_santurkar']), np.asarray(out['ics_santurkar_rel'])
  assert ics.shape == rel.shape == (3,) and np.all(np.isfinite(ics))
  # Layer 0 sees only the embedding update before it.
  new_state, _ = jax.jit(lambda s, b: fns.train_step(s, HP, b))(state, batch)

  def layer_grads(params):
    return jax.grad(lambda p: fns.loss(p, state['batch_stats'], HP, batch, True)[0])(
        params)['blocks']['layers']
  p, q = state['params'], new_state['params']
  mixed = {**p, 'token_embed': q['token_embed'], 'pos_embed': q['pos_embed']}
  diff = jax.tree.map(lambda a, b: (a - b)[0], layer_grads(mixed), layer_grads(p))
  expected = np.sqrt(sum(float((x ** 2).sum()) for x in jax.tree.leaves(diff)))
  assert ics[0] == pytest.approx(expected, rel=1e-3)
  assert ics[2] > 0
  # Relative: the same over ||G_0||, layer 0's own weight gradient.
  g0 = jax.tree.map(lambda a: a[0], layer_grads(p))
  norm = np.sqrt(sum(float((x ** 2).sum()) for x in jax.tree.leaves(g0)))
  assert rel[0] == pytest.approx(expected / norm, rel=1e-3)


def test_z_loss_adds_weighted_mean_squared_log_partition():
  fns, state, batch = _setup()
  loss = lambda z: fns.loss(state['params'], state['batch_stats'], {**HP, 'z_loss': z},
                            batch, True)
  total0, (ce, _, _) = loss(0.0)
  total, _ = loss(0.5)
  logits, _ = _apply(fns, state, batch)
  logz = np.asarray(jax.nn.logsumexp(logits, -1))
  assert float(total0) == pytest.approx(float(ce))
  assert float(total) == pytest.approx(float(ce) + 0.5 * np.mean(logz ** 2), rel=1e-5)


def test_batch_statistics_eval_is_the_train_mode_forward_without_updating_stats():
  fns, state, batch = _setup(**{'model.norm': 'batchnorm', 'model.placement': 'pre'})
  batches = jax.tree.map(lambda x: x[None], batch)
  with_batch = float(fns.eval_loss(state, batches, batch_statistics=True))
  logits, _ = _apply(fns, state, batch)  # train=True: the batch's own statistics
  ce_BxT, _ = token_losses(logits, batch['targets'])
  assert with_batch == pytest.approx(float(masked_token_mean(ce_BxT, batch['loss_mask'])),
                                     rel=1e-5)
  # Fresh running statistics (mean 0, var 1) differ from the batch's.
  assert abs(with_batch - float(fns.eval_loss(state, batches))) > 1e-3
  fns, state, batch = _setup()  # LayerNorm has no batch statistics: same loss
  batches = jax.tree.map(lambda x: x[None], batch)
  assert float(fns.eval_loss(state, batches, batch_statistics=True)) == pytest.approx(
      float(fns.eval_loss(state, batches)))


def test_drift_of_a_diverged_lane_is_nan_without_a_warning():
  import warnings
  prev = {'d/attn_norm_feat_mean': np.array([[0.0, 1.0], [np.inf, 1.0]])}
  cur = {'d/attn_norm_feat_mean': np.array([[1.0, 1.0], [np.inf, 1e300]])}
  with warnings.catch_warnings():
    warnings.simplefilter('error')
    out = diagnostics.drift(prev, cur)['ics_drift/d/attn_norm_mean']
  assert out[0] == np.sqrt(0.5) and np.isnan(out[1])


def test_stream_rms_is_the_stream_each_sublayer_joins():
  """Each sublayer's `stream_rms` is the RMS of the residual stream it is added
  to: for attention in block l > 0 that is the stream after block l - 1, for
  block 0 the embedding; in post-LN the MLP joins the attention's LayerNorm
  output (unit gain, zero bias at init: RMS 1)."""
  for placement in ('pre', 'post'):
    fns, state, batch = _setup(**{'model.placement': placement, 'model.num_layers': 3})
    _, m = _diag(fns, state, batch)
    np.testing.assert_allclose(m['depth/attn_stream_rms'][1:], m['depth/residual_rms'][:-1],
                               rtol=1e-5)
    p = state['params']
    x = p['token_embed'][batch['inputs']] + p['pos_embed'][:batch['inputs'].shape[1]]
    mask = np.asarray(batch['input_mask'])
    embed_rms = np.sqrt((np.square(np.asarray(x)).mean(-1) * mask).sum() / mask.sum())
    assert m['depth/attn_stream_rms'][0] == pytest.approx(embed_rms, rel=1e-5)
  np.testing.assert_allclose(m['depth/mlp_stream_rms'], 1.0, atol=1e-3)


def test_layer_update_ratio_is_each_layers_update_over_its_parameters():
  fns, state, batch = _setup(**{'model.share': 'none', 'model.num_layers': 3})
  new_state, m = _diag(fns, state, batch)
  old, new = (s['params']['blocks']['layers']['attn'] for s in (state, new_state))
  rms = lambda leaves: np.sqrt(sum(np.square(np.asarray(x)).sum() for x in leaves)  # noqa
                               / sum(np.asarray(x).size for x in leaves))
  by_hand = [rms([(b - a)[i] for a, b in zip(jax.tree.leaves(old), jax.tree.leaves(new))])
             / rms([a[i] for a in jax.tree.leaves(old)]) for i in range(3)]
  np.testing.assert_allclose(m['layer_update_ratio/attn'], by_hand, rtol=1e-4)
