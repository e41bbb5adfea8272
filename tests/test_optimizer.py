"""Schedule, update rule and z-loss against hand formulas."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lnexp.config import apply_overrides, base_config
from lnexp.train import optimizer
from lnexp.train.optimizer import OptimConfig
from lnexp.train.steps import token_losses


def _reference_multiplier(step, warmup, total, floor):
  if step < warmup:
    return (step + 1) / warmup
  progress = min(max((step - warmup) / max(total - warmup, 1), 0), 1)
  return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


@pytest.mark.parametrize('warmup', [0, 1, 10])
def test_warmup_cosine_matches_formula_with_traced_warmup(warmup):
  steps = np.arange(100)
  got = jax.jit(jax.vmap(lambda s, w: optimizer.lr_multiplier(s, w, 100, 0.1),
                         in_axes=(0, None)))(steps, jnp.float32(warmup))
  want = [_reference_multiplier(s, warmup, 100, 0.1) for s in steps]
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
  assert got[0] == pytest.approx(1.0 if warmup == 0 else 1 / warmup)


def _optim_config(**keys) -> OptimConfig:
  """The default optimizer config with `keys` (optim.*) changed."""
  return OptimConfig.from_config(apply_overrides(base_config(), {
      f'optim.{k}': v for k, v in keys.items()}))


def test_update_is_lr_times_direction_plus_coupled_or_decoupled_decay():
  params = {'dense': {'kernel': jnp.ones((2, 2)), 'bias': jnp.ones(2)}}
  direction = jax.tree.map(lambda p: 0.5 * jnp.ones_like(p), params)
  hp = {'lr': 0.1, 'weight_decay': 0.2, 'warmup_steps': 0.0}
  for decoupled, wd_t in ((False, 0.1 * 0.2), (True, 0.2)):
    cfg = _optim_config(decoupled_wd=decoupled, min_lr_ratio=0.1)
    new, lr = optimizer.apply_update(params, direction, 0, hp, cfg, total_steps=10)
    assert float(lr) == pytest.approx(0.1)
    np.testing.assert_allclose(new['dense']['kernel'], 1 - 0.1 * 0.5 - wd_t * 1, rtol=1e-6)
    np.testing.assert_allclose(new['dense']['bias'], 1 - 0.1 * 0.5, rtol=1e-6)  # no decay


def test_clipping_per_lane_and_disabled_at_zero():
  grads = {'w': jnp.array([3.0, 4.0])}
  clipped = optimizer.clip_by_global_norm(grads, jnp.float32(5.0), jnp.float32(1.0))
  np.testing.assert_allclose(clipped['w'], [0.6, 0.8], rtol=1e-6)
  same = optimizer.clip_by_global_norm(grads, jnp.float32(5.0), jnp.float32(0.0))
  np.testing.assert_allclose(same['w'], [3.0, 4.0])


def test_sgd_direction_is_momentum_trace():
  tx = optimizer.direction(_optim_config(name='sgd', momentum=0.9))
  state = tx.init({'w': jnp.zeros(1)})
  d1, state = tx.update({'w': jnp.ones(1)}, state)
  d2, _ = tx.update({'w': jnp.ones(1)}, state)
  assert float(d1['w'][0]) == pytest.approx(1.0) and float(d2['w'][0]) == pytest.approx(1.9)


def test_token_losses_are_cross_entropy_and_log_partition():
  logits = np.random.default_rng(0).normal(size=(2, 3, 5)).astype(np.float32)
  targets = np.array([[0, 1, 2], [3, 4, 0]])
  ce, logz = token_losses(jnp.asarray(logits), jnp.asarray(targets))
  ref_logz = np.log(np.exp(logits).sum(-1))
  np.testing.assert_allclose(logz, ref_logz, rtol=1e-5)
  np.testing.assert_allclose(
      ce, ref_logz - np.take_along_axis(logits, targets[..., None], -1)[..., 0], rtol=1e-5)
