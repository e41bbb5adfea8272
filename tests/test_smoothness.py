"""Santurkar et al.'s smoothness along the gradient (lnexp.measure.smoothness)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lnexp.data import make_source
from lnexp.measure import smoothness
from lnexp.models.model import ModelConfig
from lnexp.train.optimizer import OptimConfig
from lnexp.train.steps import LaneFns
from tests.conftest import tiny_config

A_DIAG = np.array([1.0, 3.0, 10.0, 0.5])  # L(a, b) = 0.5 a^T A_a a + 0.5 b^T A_b b


def _quadratic(params):
  return 0.5 * (A_DIAG[:3] * params['a'] ** 2).sum() + 0.5 * A_DIAG[3] * params['b'] ** 2


def test_quadratic_along_the_gradient_matches_the_closed_form():
  theta = {'a': jnp.array([0.3, -1.0, 0.2]), 'b': jnp.asarray(2.0)}
  etas = [0.01, 0.05, 0.1]
  got = jax.jit(lambda p: smoothness.along_gradient(_quadratic, p, etas))(theta)
  got = jax.tree.map(np.asarray, got)
  t = np.array([0.3, -1.0, 0.2, 2.0])
  g = A_DIAG * t
  moved = [t - eta * g for eta in etas]
  np.testing.assert_allclose(got['loss_K'], [0.5 * (A_DIAG * m ** 2).sum() for m in moved],
                             rtol=1e-6)
  # grad(theta - eta g) - g = -eta A g, so the ratio is ||A g|| / ||g|| for every eta.
  np.testing.assert_allclose(got['grad_change_K'],
                             [eta * np.linalg.norm(A_DIAG * g) for eta in etas], rtol=1e-6)
  assert (got['beta']) == pytest.approx(np.linalg.norm(A_DIAG * g) / np.linalg.norm(g),
                                      rel=1e-6)
  assert (got['grad_norm']) == pytest.approx(np.linalg.norm(g), rel=1e-6)
  losses = [0.5 * (A_DIAG * t ** 2).sum()] + list(got['loss_K'])
  assert (got['loss_range']) == pytest.approx(max(losses) - min(losses), rel=1e-5)


def test_beta_is_the_top_curvature_along_its_eigenvector():
  theta = {'a': jnp.array([0.0, 0.0, 1.5]), 'b': jnp.asarray(0.0)}
  got = jax.tree.map(np.asarray, smoothness.along_gradient(_quadratic, theta, [1e-3, 1e-2]))
  assert (got['beta']) == pytest.approx(A_DIAG.max(), rel=1e-5)


def test_lane_loss_along_the_gradient_runs_on_a_batchnorm_model():
  cfg = tiny_config(**{'model.vocab_size': 35, 'model.norm': 'batchnorm'})
  fns = LaneFns(ModelConfig.from_config(cfg), OptimConfig.from_config(cfg), 10, 1e9)
  batch = jax.tree.map(jnp.asarray, make_source(cfg).train_batch(0))
  variables = jax.jit(fns.model.init, static_argnums=4)(
      jax.random.key(0), batch['inputs'], batch['segment_ids'], batch['input_mask'], False)
  loss_fn = smoothness.lane_loss_fn(fns, variables['batch_stats'], batch)
  got = jax.tree.map(np.asarray, jax.jit(
      lambda p: smoothness.along_gradient(loss_fn, p, [1e-3, 1e-1]))(variables['params']))
  assert np.isfinite(got['beta']) and got['beta'] > 0
  assert got['loss_K'][0] < got['loss']  # a small step down the gradient helps
  assert got['grad_change_K'][1] > got['grad_change_K'][0]


def test_rms_steps_move_every_model_the_same_distance_per_parameter():
  """With rms_steps, step k moves the parameters by step_k x sqrt(N) in norm,
  whatever ||g||: on the quadratic, grad change = that distance x ||A g|| / ||g||."""
  theta = {'a': jnp.array([0.3, -1.0, 0.2]), 'b': jnp.asarray(2.0)}
  steps = [1e-3, 4e-3]
  got = jax.tree.map(np.asarray, smoothness.along_gradient(_quadratic, theta, steps,
                                                           rms_steps=True))
  g = A_DIAG * np.array([0.3, -1.0, 0.2, 2.0])
  moved = np.asarray(steps) * 2.0  # sqrt(N) = sqrt(4)
  np.testing.assert_allclose(got['etas'] * np.linalg.norm(g), moved, rtol=1e-6)
  np.testing.assert_allclose(got['grad_change_K'],
                             moved * np.linalg.norm(A_DIAG * g) / np.linalg.norm(g),
                             rtol=1e-5)
  assert got['beta'] == pytest.approx(np.linalg.norm(A_DIAG * g) / np.linalg.norm(g),
                                      rel=1e-5)
