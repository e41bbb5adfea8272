"""Dense layers computed as one [tokens, in] x [in, out] matmul: the parameters
of flax's `nn.Dense` and `nn.DenseGeneral`, with the leading (batch, time) axes
flattened first, so XLA CPU runs weight gradients at matmul speed
(docs/performance.md).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import flax.linen as nn
import jax.numpy as jnp

from lnexp.models.ngpt import unit


def matmul_tokens(x_NxD, w_DxF):
  """x [..., D] @ w [D, F] -> [..., F], as one 2-D matmul over all tokens."""
  y = x_NxD.reshape(-1, x_NxD.shape[-1]) @ w_DxF
  return y.reshape(*x_NxD.shape[:-1], w_DxF.shape[-1])


class Dense(nn.Module):
  """Contracts the last `axes` input axes into `features` (an int or a shape).

  unit='in' | 'out' uses the kernel divided by its norm over the input | output
  axes (nGPT's normalized matrices, lnexp.models.ngpt)."""
  features: int | tuple[int, ...]
  axes: int = 1
  use_bias: bool = True
  dtype: Any = None
  kernel_init: Callable = nn.initializers.lecun_normal()
  unit: str | None = None

  @nn.compact
  def __call__(self, x):
    out_shape = (self.features,) if isinstance(self.features, int) else tuple(self.features)
    lead, in_shape = x.shape[:x.ndim - self.axes], x.shape[x.ndim - self.axes:]
    n_in, n_out = math.prod(in_shape), math.prod(out_shape)
    # Initialised flat, as nn.DenseGeneral does, so fan-in and values match it.
    kernel = self.param('kernel', lambda rng, shape: self.kernel_init(
        rng, (n_in, n_out), jnp.float32).reshape(shape), in_shape + out_shape)
    bias = self.param('bias', nn.initializers.zeros, out_shape, jnp.float32) \
        if self.use_bias else None
    if self.unit:
      axes = tuple(range(len(in_shape))) if self.unit == 'in' else \
          tuple(range(len(in_shape), kernel.ndim))
      kernel = unit(kernel, axes)
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    y_NxF = x.reshape(-1, n_in) @ kernel.reshape(n_in, n_out)
    if bias is not None:
      y_NxF = y_NxF + bias.reshape(n_out)
    return y_NxF.reshape(lead + out_shape)
