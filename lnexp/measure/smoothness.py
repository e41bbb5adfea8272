"""Loss-landscape smoothness along the gradient (Santurkar et al. 2018, sec. 3.1).

For the article's "LayerNorm smooths the optimization landscape": the loss and
the gradient change at theta - eta_k g over a grid of eta_k, as their figure 4
(quantities and the `rms_steps` reading of eta: docs/diagnostics.md).
"""
from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import optax

f32 = jnp.float32


def along_gradient(loss_fn: Callable, params, etas: Sequence[float],
                   rms_steps: bool = False) -> dict:
  """Santurkar et al.'s quantities at `params` for step sizes `etas` (with
  `rms_steps`: per-parameter RMS step lengths).

  Returns loss (L(theta)), grad_norm (||g||), etas [K] (the multiples of g
  taken), loss_K, loss_range (max - min of loss_K and loss), grad_change_K, beta.
  """
  loss, g = jax.value_and_grad(loss_fn)(params)
  grad_norm = optax.tree.norm(g)
  etas_K = jnp.asarray(etas, f32)
  if rms_steps:
    size = sum(x.size for x in jax.tree.leaves(params))
    etas_K = etas_K * jnp.sqrt(jnp.float32(size)) / jnp.maximum(grad_norm, 1e-30)

  def at(eta):
    moved = jax.tree.map(lambda p, d: p - eta * d, params, g)
    loss_k, g_k = jax.value_and_grad(loss_fn)(moved)
    return loss_k, optax.tree.norm(jax.tree.map(jnp.subtract, g_k, g))

  loss_K, grad_change_K = jax.lax.map(at, etas_K)
  all_losses = jnp.concatenate([loss[None], loss_K])
  return {'loss': loss, 'grad_norm': grad_norm, 'etas': etas_K, 'loss_K': loss_K,
          'loss_range': all_losses.max() - all_losses.min(),
          'grad_change_K': grad_change_K,
          'beta': (grad_change_K / (etas_K * jnp.maximum(grad_norm, 1e-30))).max()}


def lane_loss_fn(fns, batch_stats, batch, z_loss: float = 0.0, train: bool = True):
  """params -> the training loss of one `LaneFns` lane on `batch` (train: as the
  train step sees it, BatchNorm with the batch's statistics; updated running
  statistics are discarded, so every point sees the same model)."""
  hp = {'z_loss': jnp.asarray(z_loss, f32)}
  return lambda params: fns.loss(params, batch_stats, hp, batch, train)[0]
