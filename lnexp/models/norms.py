"""Normalization layers, each computing in float32 whatever the activation dtype.

Every token norm is called as `(x_BxTxD, mask_BxT, train)` so the block can
swap them freely. What each computes, in detail: docs/variants.md.
- LayerNorm: Ba, Kiros & Hinton 2016, "Layer Normalization".
- RMSNorm: Zhang & Sennrich 2019, "Root Mean Square Layer Normalization".
- BatchNorm: Ioffe & Szegedy 2015, with a padding mask and a causal-safe mode.
- DyT: Zhu et al. 2025, "Transformers without Normalization" (Dynamic Tanh).
- Derf: Chen et al. 2025, "Stronger Normalization-Free Transformers" (Dynamic erf).
- ScaleNorm: Nguyen & Salazar 2019, "Transformers without Tears".
- PowerNorm: Shen et al. 2020, running quadratic mean (no batch statistics).
- GroupNorm (images only): Wu & He 2018.

`NORMS` is the registry: adding a norm is one class and one line there
(docs/adding-a-variant.md).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

f32 = jnp.float32


def affine(module: nn.Module, y, bias: bool = True):
  """y * scale (+ bias), learned per feature (last axis) from 1 (and 0)."""
  y = y * module.param('scale', nn.initializers.ones, (y.shape[-1],), f32)
  return y + module.param('bias', nn.initializers.zeros, (y.shape[-1],), f32) if bias else y


class LayerNorm(nn.Module):
  """(x - mean) / sqrt(var + eps) * scale + bias, statistics over features.

  affine=False: Xu et al. 2019's LayerNorm-simple; with detach_stats=True, no
  gradient through mean and variance (their DetachNorm).
  """
  eps: float = 1e-5
  use_bias: bool = True
  affine: bool = True
  detach_stats: bool = False

  @nn.compact
  def __call__(self, x_BxTxD, mask_BxT=None, train=False):
    x = x_BxTxD.astype(f32)
    mean = x.mean(-1, keepdims=True)
    var = jnp.square(x - mean).mean(-1, keepdims=True)
    if self.detach_stats:
      mean, var = jax.lax.stop_gradient(mean), jax.lax.stop_gradient(var)
    y = (x - mean) * jax.lax.rsqrt(var + self.eps)
    return (affine(self, y, self.use_bias) if self.affine else y).astype(x_BxTxD.dtype)


class RMSNorm(nn.Module):
  """x / sqrt(mean(x^2) + eps) * scale: LayerNorm without re-centring. On
  images, axes=(1, 2, 3): over height, width and channels of each image."""
  eps: float = 1e-5
  axes: tuple[int, ...] = (-1,)

  @nn.compact
  def __call__(self, x_BxTxD, mask_BxT=None, train=False):
    x = x_BxTxD.astype(f32)
    y = x * jax.lax.rsqrt(jnp.square(x).mean(self.axes, keepdims=True) + self.eps)
    return affine(self, y, bias=False).astype(x_BxTxD.dtype)


class DyT(nn.Module):
  """scale * tanh(alpha * x) + bias with a learned scalar alpha; with erf=True
  Derf's scale * erf(alpha * x + shift) + bias, learned scalar shift from 0."""
  alpha_init: float = 0.5
  use_bias: bool = True
  erf: bool = False

  @nn.compact
  def __call__(self, x_BxTxD, mask_BxT=None, train=False):
    x = x_BxTxD.astype(f32)
    alpha = self.param('alpha', lambda _: jnp.asarray(self.alpha_init, f32))
    if self.erf:
      y = jax.lax.erf(alpha * x + self.param('shift', nn.initializers.zeros, (), f32))
    else:
      y = jnp.tanh(alpha * x)
    return affine(self, y, self.use_bias).astype(x_BxTxD.dtype)


class ScaleNorm(nn.Module):
  """g * x / sqrt(sum(x^2) + eps): one learned scalar g, initialised to sqrt(D)."""
  eps: float = 1e-5

  @nn.compact
  def __call__(self, x_BxTxD, mask_BxT=None, train=False):
    x = x_BxTxD.astype(f32)
    g = self.param('scale', lambda _: jnp.asarray(x.shape[-1] ** 0.5, f32))
    y = g * x * jax.lax.rsqrt(jnp.square(x).sum(-1, keepdims=True) + self.eps)
    return y.astype(x_BxTxD.dtype)


class PowerNorm(nn.Module):
  """x / sqrt(psi + eps) * scale + bias, psi the running quadratic mean of
  earlier steps (in training too: causal-safe), updated after the step from
  the real tokens' mean square."""
  momentum: float = 0.9
  eps: float = 1e-5
  use_bias: bool = True

  @nn.compact
  def __call__(self, x_BxTxD, mask_BxT, train=False):
    x = x_BxTxD.astype(f32)
    d = x.shape[-1]
    psi = self.variable('batch_stats', 'psi', lambda: jnp.ones(d, f32))
    y = x * jax.lax.rsqrt(psi.value + self.eps)
    if train and not self.is_initializing():
      m = mask_BxT.astype(f32)[..., None]
      count = m.sum()
      square = (jnp.square(x) * m).sum((0, 1)) / jnp.maximum(count, 1.0)
      mom = jnp.where(count > 0, self.momentum, 1.0)
      psi.value = mom * psi.value + (1 - mom) * jax.lax.stop_gradient(square)
    return affine(self, y, self.use_bias).astype(x_BxTxD.dtype)


class Identity(nn.Module):
  @nn.compact
  def __call__(self, x_BxTxD, mask_BxT=None, train=False):
    return x_BxTxD


class BatchNorm(nn.Module):
  """BatchNorm over real (mask=1) tokens, running statistics for eval.

  axes: 'batch_time' (classic; leaks the future in a causal LM), 'batch' (per
  position) or 'cumulative' (positions <= t). Running statistics pool the
  per-position ones weighted by token counts; a position with fewer than 2
  real samples uses them instead. Sows the batch-vs-running distances.
  """
  axes: str = 'batch'
  momentum: float = 0.9
  eps: float = 1e-5
  use_bias: bool = True

  @nn.compact
  def __call__(self, x_BxTxD, mask_BxT, train=False):
    x = x_BxTxD.astype(f32)
    d = x.shape[-1]
    run_mean = self.variable('batch_stats', 'mean', lambda: jnp.zeros(d, f32))
    run_var = self.variable('batch_stats', 'var', lambda: jnp.ones(d, f32))
    if train:
      m = mask_BxT.astype(f32)[..., None]
      if self.axes == 'cumulative':  # position t: batch x positions <= t
        count = jnp.cumsum(m.sum(0), 0)                     # Tx1
        safe = jnp.maximum(count, 1.0)
        mean = jnp.cumsum((x * m).sum(0), 0) / safe         # TxD
        var = jnp.maximum(jnp.cumsum((jnp.square(x) * m).sum(0), 0) / safe
                          - jnp.square(mean), 0.0)
        # Running statistics from the last position, which has seen every token.
        total = count[-1, 0]
        pooled_mean, pooled_var = mean[-1], var[-1]
      else:
        red = (0, 1) if self.axes == 'batch_time' else (0,)
        count = m.sum(red)                                  # 1 or Tx1
        safe = jnp.maximum(count, 1.0)
        mean = (x * m).sum(red) / safe                      # D or TxD
        var = (jnp.square(x - mean) * m).sum(red) / safe
        weight = jnp.where(count >= 2, count, 0.0)
        total = weight.sum()
        pooled_mean = (weight * mean).reshape(-1, d).sum(0) / jnp.maximum(total, 1)
        pooled_var = (weight * var).reshape(-1, d).sum(0) / jnp.maximum(total, 1)
      enough = count >= 2
      if self.is_mutable_collection('intermediates'):
        self.sow('intermediates', 'bn_mean_dist',
                 jnp.linalg.norm(pooled_mean - run_mean.value) / d)
        self.sow('intermediates', 'bn_var_dist',
                 jnp.linalg.norm(pooled_var - run_var.value) / d)
      mean = jnp.where(enough, mean, run_mean.value)
      var = jnp.where(enough, var, run_var.value)
      if not self.is_initializing():
        mom = jnp.where(total > 0, self.momentum, 1.0)
        run_mean.value = mom * run_mean.value + (1 - mom) * pooled_mean
        run_var.value = mom * run_var.value + (1 - mom) * pooled_var
    else:
      mean, var = run_mean.value, run_var.value
    y = (x - mean) * jax.lax.rsqrt(var + self.eps)
    return affine(self, y, self.use_bias).astype(x_BxTxD.dtype)


class PerPixel(nn.Module):
  """A token norm applied to images as [B, H*W, C] tokens (all pixels real).

  `make` builds the token norm inside this module (a module built by the
  caller would belong to the caller's scope, where two blocks' norms clash)."""
  make: Callable[[], nn.Module]

  @nn.compact
  def __call__(self, x_BxHxWxC, train=False):
    b, h, w, c = x_BxHxWxC.shape
    flat = x_BxHxWxC.reshape(b, h * w, c)
    return self.make()(flat, jnp.ones((b, h * w), f32), train).reshape(b, h, w, c)


class ImageGroupNorm(nn.Module):
  """GroupNorm over channel groups, height and width of each image (one group:
  LayerNorm over the whole image)."""
  groups: int
  eps: float = 1e-5
  use_bias: bool = True

  @nn.compact
  def __call__(self, x_BxHxWxC, train=False):
    y = nn.GroupNorm(num_groups=self.groups, epsilon=self.eps, use_bias=self.use_bias,
                     dtype=f32, param_dtype=f32, name='norm')(x_BxHxWxC.astype(f32))
    return y.astype(x_BxHxWxC.dtype)


def group_norm(groups: int, cfg, name: str) -> nn.Module:
  return ImageGroupNorm(groups, cfg.norm_eps, cfg.use_bias, name=name)


@dataclasses.dataclass(frozen=True)
class Norm:
  """A registered norm (its fields: docs/adding-a-variant.md)."""
  tokens: Callable | None  # cfg, name -> module on [B, T, D] (None: not for sequences)
  images: Callable | None = None  # cfg, name -> module on [B, H, W, C] (None: no CNN)
  recurrent: bool = True  # usable inside the LSTM cell (normalising one step's gates)
  running_stats: bool = False  # keeps 'batch_stats' (train/eval differ; per depth)
  identity: bool = False  # without it the model is the same whatever the placement
  lane_keys: tuple[str, ...] = ()  # per-lane init knobs it reads ('model.<key>')


def _batchnorm(cfg, name, axes=None):
  return BatchNorm(axes or cfg.bn_axes, cfg.bn_momentum, cfg.norm_eps, cfg.use_bias,
                   name=name)


NORMS: dict[str, Norm] = {
    'layernorm': Norm(lambda c, n: LayerNorm(c.norm_eps, c.use_bias, name=n),
                      images=lambda c, n: group_norm(1, c, n)),
    # Xu et al. 2019: LayerNorm without gain and bias, and the same with the
    # mean and variance gradients detached (DetachNorm).
    'layernorm_simple': Norm(lambda c, n: LayerNorm(c.norm_eps, affine=False, name=n),
                             recurrent=False),
    'detachnorm': Norm(lambda c, n: LayerNorm(c.norm_eps, affine=False, detach_stats=True,
                                              name=n), recurrent=False),
    'rmsnorm': Norm(lambda c, n: RMSNorm(c.norm_eps, name=n),
                    images=lambda c, n: RMSNorm(c.norm_eps, (1, 2, 3), name=n)),
    'batchnorm': Norm(_batchnorm, running_stats=True,
                      images=lambda c, n: PerPixel(
                          lambda: _batchnorm(c, 'norm', 'batch_time'), name=n)),
    'dyt': Norm(lambda c, n: DyT(c.dyt_alpha_init, c.use_bias, name=n), recurrent=False,
                images=lambda c, n: PerPixel(lambda: DyT(c.dyt_alpha_init, c.use_bias,
                                                         name='norm'), name=n),
                lane_keys=('model.dyt_alpha_init',)),
    'derf': Norm(lambda c, n: DyT(c.derf_alpha_init, c.use_bias, erf=True, name=n),
                 recurrent=False),
    'scalenorm': Norm(lambda c, n: ScaleNorm(c.norm_eps, name=n)),
    'powernorm': Norm(lambda c, n: PowerNorm(c.bn_momentum, c.norm_eps, c.use_bias, name=n),
                      running_stats=True, recurrent=False),
    'groupnorm': Norm(None, images=lambda c, n: group_norm(c.groups, c, n),
                      recurrent=False),
    'none': Norm(lambda c, n: Identity(name=n), identity=True,
                 images=lambda c, n: PerPixel(lambda: Identity(name='norm'), name=n)),
}


def make_norm(kind: str, cfg, name: str) -> nn.Module:
  """The token norm `kind` (a `NORMS` name), configured from a ModelConfig."""
  return NORMS[kind].tokens(cfg, name)


def make_image_norm(kind: str, cfg, name: str) -> nn.Module:
  """The image norm `kind` (a `NORMS` name) on [B, H, W, C]."""
  return NORMS[kind].images(cfg, name)
