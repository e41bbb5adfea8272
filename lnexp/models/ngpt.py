"""nGPT's pieces (Loshchilov et al. 2024, "nGPT: Normalized Transformer with
Representation Learning on the Hypersphere"), for the 'ngpt' placement and
the model parts it changes (`Placement.hypersphere`).

Implemented, as the reference code (NVIDIA/ngpt) has them: the hidden state
on the unit sphere, h <- Norm(h + |alpha| (Norm(f(h)) - h)) for attention
and MLP with per-feature eigen learning rates alpha; queries and keys
normalized per head and scaled by s_qk, softmax scale sqrt(d_k) instead of
1/sqrt(d_k); the MLP's up projection scaled by s_uv sqrt(d); logits scaled by
s_z; no final norm; the embedding normalized. alpha, s_qk and s_z use the
paper's trick: stored from `scaling` = 1/sqrt(d), used as stored * init /
scaling, so an Adam step moves them by ~lr * init / scaling.

Different: matrices are normalized along the embedding dimension in the
forward pass (W / ||W||, a reparametrization) instead of being projected
back onto the sphere after each step, so their stored norms drift and the
step size relative to them changes in training; the MLP is this model's
GELU one (the paper's SwiGLU has s_u and s_v, here one s_uv before the
GELU); biases follow model.use_bias (the paper has none); with learned
positions (the paper uses model.pos=rope) the input is Norm(unit token row +
unit position row). Not part of the model: the paper's training recipe (no
weight decay, no warm-up: optim.weight_decay and optim.warmup_steps).
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
