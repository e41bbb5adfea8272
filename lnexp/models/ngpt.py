"""nGPT's pieces (Loshchilov et al. 2024, "nGPT: Normalized Transformer with
Representation Learning on the Hypersphere") for the 'ngpt' placement and the
model parts it changes (`Placement.hypersphere`). What is implemented as the
reference code (NVIDIA/ngpt) has it, and what differs: docs/variants.md.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

f32 = jnp.float32
ALPHA_INIT = 0.05  # eigen learning rates alpha_A, alpha_M at init
EPS = 1e-12        # inside the square root of Norm: a zero vector stays zero


def unit(x, axis=-1):
  """x / ||x|| along `axis`, computed in float32."""
  x32 = x.astype(f32)
  return (x32 * jax.lax.rsqrt(jnp.sum(jnp.square(x32), axis, keepdims=True) + EPS)
          ).astype(x.dtype)


def scaled(value, init: float, scaling: float):
  """A parameter stored from `scaling` used as value * init / scaling."""
  return value * (init / scaling)


def scaled_param(module: nn.Module, name: str, shape, init: float, scaling: float):
  return scaled(module.param(name, nn.initializers.constant(scaling), shape, f32),
                init, scaling)
