"""lnexp.models.dense against flax's own Dense / DenseGeneral: same params, outputs, grads."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lnexp.models.dense import Dense

INIT = nn.initializers.truncated_normal(0.3)


@pytest.mark.parametrize('features,axes,reference', [
    (24, 1, lambda: nn.Dense(24, kernel_init=INIT)),
    ((3, 2, 4), 1, lambda: nn.DenseGeneral((3, 2, 4), kernel_init=INIT)),
    (6, 2, lambda: nn.DenseGeneral(6, axis=(-2, -1), kernel_init=INIT)),
])
def test_dense_matches_flax(features, axes, reference):
  x = jax.random.normal(jax.random.key(1), (2, 5, 4, 2) if axes == 2 else (2, 5, 8))
  ours, theirs = Dense(features, axes=axes, kernel_init=INIT), reference()
  params = ours.init(jax.random.key(0), x)
  ref_params = theirs.init(jax.random.key(0), x)
  jax.tree.map(np.testing.assert_array_equal, params, ref_params)
  params = jax.tree.map(lambda p: p + 0.1, params)  # a non-zero bias too
  np.testing.assert_allclose(ours.apply(params, x), theirs.apply(params, x), rtol=1e-5,
                             atol=1e-6)
  grads = jax.grad(lambda p, x: jnp.sum(jnp.sin(ours.apply(p, x))), (0, 1))(params, x)
  ref = jax.grad(lambda p, x: jnp.sum(jnp.sin(theirs.apply(p, x))), (0, 1))(params, x)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
               grads, ref)


def test_bfloat16_compute_keeps_float32_params():
  layer = Dense(4, dtype=jnp.bfloat16)
  params = layer.init(jax.random.key(0), jnp.ones((2, 3, 8)))
  assert params['params']['kernel'].dtype == jnp.float32
  assert layer.apply(params, jnp.ones((2, 3, 8))).dtype == jnp.bfloat16
