"""Each norm against a NumPy implementation of its formula."""
import math
import types

import jax
import numpy as np
import pytest

from lnexp.models import norms

EPS = 1e-5


def _x(shape=(4, 6, 8), seed=0):
  return np.random.default_rng(seed).normal(1.5, 2.0, shape).astype(np.float32)


def _apply(module, x, mask=None, train=False, variables=None, mutable=False):
  mask = np.ones(x.shape[:2], np.float32) if mask is None else mask
  variables = variables or module.init(jax.random.key(0), x, mask, False)
  return module.apply(variables, x, mask, train, mutable=mutable), variables


def test_layernorm_matches_numpy():
  x = _x()
  y, _ = _apply(norms.LayerNorm(EPS), x)
  ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + EPS)
  np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_xu_et_al_variants_share_the_forward_and_differ_in_the_backward():
  """LayerNorm-simple and DetachNorm (Xu et al. 2019) have no parameters and
  the same forward; d/dx of sum(w * y) is the full Jacobian of standardisation
  for the first, w / sigma (statistics held constant) for the second."""
  x = _x()
  w = np.random.default_rng(3).normal(size=x.shape).astype(np.float32)
  sigma = np.sqrt(x.var(-1, keepdims=True) + EPS)
  y_hat = (x - x.mean(-1, keepdims=True)) / sigma
  full = (w - w.mean(-1, keepdims=True) - y_hat * (w * y_hat).mean(-1, keepdims=True)) / sigma
  for name, expected in (('layernorm_simple', full), ('detachnorm', w / sigma)):
    module = norms.NORMS[name].tokens(types.SimpleNamespace(norm_eps=EPS), 'n')
    variables = module.init(jax.random.key(0), x, None, False)
    assert not jax.tree.leaves(variables)  # no gain, no bias
    y = module.apply(variables, x)
    np.testing.assert_allclose(y, y_hat, rtol=1e-4, atol=1e-5)
    grad = jax.grad(lambda v: (module.apply(variables, v) * w).sum())(x)
    np.testing.assert_allclose(grad, expected, rtol=1e-3, atol=1e-4)


def test_rmsnorm_matches_numpy():
  x = _x()
  y, _ = _apply(norms.RMSNorm(EPS), x)
  ref = x / np.sqrt((x ** 2).mean(-1, keepdims=True) + EPS)
  np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_scalenorm_matches_numpy_with_sqrt_d_init_and_a_trained_g():
  x = _x()
  module = norms.ScaleNorm(EPS)
  y, variables = _apply(module, x)
  assert float(variables['params']['scale']) == pytest.approx(8 ** 0.5)
  unit = x / np.sqrt((x ** 2).sum(-1, keepdims=True) + EPS)
  np.testing.assert_allclose(y, 8 ** 0.5 * unit, rtol=1e-5, atol=1e-6)
  y = module.apply({'params': {'scale': np.float32(3.0)}}, x, None, False)
  np.testing.assert_allclose(y, 3.0 * unit, rtol=1e-5, atol=1e-6)


def test_dyt_matches_numpy_with_trained_params():
  x = _x()
  module = norms.DyT(alpha_init=0.7)
  _, variables = _apply(module, x)
  rng = np.random.default_rng(1)
  p = {'alpha': np.float32(0.3), 'scale': rng.normal(size=8).astype(np.float32),
       'bias': rng.normal(size=8).astype(np.float32)}
  y = module.apply({'params': p}, x, None, False)
  np.testing.assert_allclose(y, np.tanh(0.3 * x) * p['scale'] + p['bias'], rtol=1e-5,
                             atol=1e-6)
  assert float(variables['params']['alpha']) == pytest.approx(0.7)


def test_derf_matches_numpy_with_trained_params():
  """Chen et al. 2025: scale * erf(alpha x + shift) + bias; alpha from
  model.derf_alpha_init, shift from 0, scale 1 and bias 0 at init."""
  x = _x()
  module = norms.NORMS['derf'].tokens(
      types.SimpleNamespace(derf_alpha_init=0.7, use_bias=True), 'n')
  y, variables = _apply(module, x)
  p = variables['params']
  assert float(p['alpha']) == pytest.approx(0.7) and float(p['shift']) == 0.0
  erf = np.vectorize(math.erf)
  np.testing.assert_allclose(y, erf(0.7 * x.astype(np.float64)), rtol=1e-5, atol=1e-6)
  rng = np.random.default_rng(1)
  p = {'alpha': np.float32(0.3), 'shift': np.float32(-0.4),
       'scale': rng.normal(size=8).astype(np.float32),
       'bias': rng.normal(size=8).astype(np.float32)}
  y = module.apply({'params': p}, x, None, False)
  ref = erf(0.3 * x.astype(np.float64) - 0.4) * p['scale'] + p['bias']
  np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def _bn_reference(x, mask, axes):
  """Masked batch statistics: per (position, feature) or per feature."""
  m = mask[..., None]
  red = (0, 1) if axes == 'batch_time' else (0,)
  count = m.sum(red)
  mean = (x * m).sum(red) / np.maximum(count, 1)
  var = (((x - mean) ** 2) * m).sum(red) / np.maximum(count, 1)
  return mean, var, count


@pytest.mark.parametrize('axes', ['batch', 'batch_time'])
def test_batchnorm_train_excludes_padding_and_updates_running_stats(axes):
  x = _x()
  mask = np.ones((4, 6), np.float32)
  mask[0, 3:] = 0
  mask[2, 1:] = 0
  x[mask == 0] = 1e6  # padding values must not leak into statistics
  module = norms.BatchNorm(axes, momentum=0.8, eps=EPS)
  (y, new_vars), variables = _apply(module, x, mask, train=True,
                                    mutable=['batch_stats'])
  mean, var, count = _bn_reference(x.astype(np.float64), mask, axes)
  real = mask.astype(bool)
  ref = (x - mean) / np.sqrt(var + EPS)
  np.testing.assert_allclose(np.asarray(y)[real], ref[real], rtol=1e-4, atol=1e-4)
  # Running statistics: count-weighted pool of the batch statistics.
  w = np.broadcast_to(count, mean.shape).reshape(-1, 8)
  pooled_mean = (w * mean.reshape(-1, 8)).sum(0) / w.sum(0)
  pooled_var = (w * var.reshape(-1, 8)).sum(0) / w.sum(0)
  stats = new_vars['batch_stats']
  np.testing.assert_allclose(stats['mean'], 0.2 * pooled_mean, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(stats['var'], 0.8 + 0.2 * pooled_var, rtol=1e-4)


def test_batchnorm_eval_uses_running_stats():
  x = _x()
  module = norms.BatchNorm('batch', eps=EPS)
  _, variables = _apply(module, x)
  run_mean = np.linspace(-1, 1, 8).astype(np.float32)
  run_var = np.linspace(0.5, 2, 8).astype(np.float32)
  variables = {'params': variables['params'],
               'batch_stats': {'mean': run_mean, 'var': run_var}}
  y, _ = _apply(module, x, variables=variables)
  np.testing.assert_allclose(y, (x - run_mean) / np.sqrt(run_var + EPS), rtol=1e-5,
                             atol=1e-5)


def test_batchnorm_position_with_one_sample_falls_back_to_running_stats():
  x = _x()
  mask = np.ones((4, 6), np.float32)
  mask[1:, 4:] = 0  # positions 4 and 5 have a single real sample
  module = norms.BatchNorm('batch', eps=EPS)
  (y, _), _ = _apply(module, x, mask, train=True, mutable=['batch_stats'])
  y = np.asarray(y)
  assert np.isfinite(y).all()
  # Initial running stats are mean 0, var 1.
  np.testing.assert_allclose(y[0, 4:], x[0, 4:] / np.sqrt(1 + EPS), rtol=1e-5)
  mean, var, _ = _bn_reference(x, mask, 'batch')
  np.testing.assert_allclose(y[:, :4], ((x - mean) / np.sqrt(var + EPS))[:, :4],
                             rtol=1e-4, atol=1e-4)


def test_cumulative_batchnorm_uses_batch_and_past_positions_only():
  x = _x((4, 6, 8))
  mask = np.ones((4, 6), np.float32)
  mask[1, 4:] = 0.0  # padding leaves the statistics
  module = norms.BatchNorm(axes='cumulative', eps=EPS)
  (y, _), _ = _apply(module, x, mask, train=True, mutable=['batch_stats'])
  for t in range(1, 6):  # position 0 has 4 samples too; check every position
    rows = [(b, s) for b in range(4) for s in range(t + 1) if mask[b, s]]
    vals = np.stack([x[b, s] for b, s in rows])
    ref = (x[:, t] - vals.mean(0)) / np.sqrt(vals.var(0) + EPS)
    np.testing.assert_allclose(np.asarray(y)[:, t], ref, rtol=1e-4, atol=1e-4)


def test_powernorm_divides_by_the_running_quadratic_mean_then_updates_it():
  x = _x()
  mask = np.ones(x.shape[:2], np.float32)
  mask[0, 3:] = 0.0
  module = norms.PowerNorm(momentum=0.9, eps=EPS)
  (y, new), variables = _apply(module, x, mask, train=True, mutable=['batch_stats'])
  np.testing.assert_allclose(y, x / np.sqrt(1.0 + EPS), rtol=1e-5)  # psi starts at 1
  real = x[mask.astype(bool)]
  np.testing.assert_allclose(new['batch_stats']['psi'],
                             0.9 + 0.1 * np.square(real).mean(0), rtol=1e-5)
  y2 = module.apply({**variables, **new}, x, mask, False)
  np.testing.assert_allclose(y2, x / np.sqrt(np.asarray(new['batch_stats']['psi']) + EPS),
                             rtol=1e-5)
