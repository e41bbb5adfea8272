"""Per-lane optimizer: warm-up + cosine schedule and AdamW/SGD with traced hparams
(unlike optax's schedules), so one compiled step serves a whole LR/warm-up sweep.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax

DECAYED = ('kernel', 'token_embed', 'pos_embed', 'embed_proj')


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  """The structural `optim.*` keys (per-lane ones arrive in `hp`; defaults and
  docs: lnexp.config.base_config)."""
  name: str
  b1: float
  b2: float
  eps: float
  momentum: float
  decoupled_wd: bool
  min_lr_ratio: float

  @classmethod
  def from_config(cls, cfg) -> OptimConfig:
    return cls(**{f.name: cfg.optim[f.name] for f in dataclasses.fields(cls)})


def lr_multiplier(step, warmup_steps, total_steps: int, min_lr_ratio: float):
  """Linear warm-up to 1 over `warmup_steps`, then cosine to `min_lr_ratio`."""
  step = jnp.asarray(step, jnp.float32)
  warmup = jnp.asarray(warmup_steps, jnp.float32)
  warm = (step + 1) / jnp.maximum(warmup, 1.0)
  progress = jnp.clip((step - warmup) / jnp.maximum(total_steps - warmup, 1.0), 0, 1)
  cosine = min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + jnp.cos(jnp.pi * progress))
  return jnp.where(step < warmup, warm, cosine)


def direction(optim_cfg) -> optax.GradientTransformation:
  """The update direction before the learning rate: Adam moments or momentum."""
  if optim_cfg.name == 'adamw':
    return optax.scale_by_adam(optim_cfg.b1, optim_cfg.b2, optim_cfg.eps)
  return optax.trace(decay=optim_cfg.momentum)


def clip_by_global_norm(grads, grad_norm, clip_norm):
  """Scales grads to norm <= clip_norm; clip_norm == 0 disables (traced)."""
  scale = jnp.where((clip_norm > 0) & (grad_norm > clip_norm),
                    clip_norm / jnp.maximum(grad_norm, 1e-30), 1.0)
  return jax.tree.map(lambda g: g * scale, grads)


def decay_mask(params):
  """Weight decay on matrices and embeddings, not on norms or biases."""
  return jax.tree_util.tree_map_with_path(
      lambda path, _: any(getattr(k, 'key', None) in DECAYED for k in path), params)


def apply_update(params, direction_tree, step, hp, optim_cfg, total_steps: int):
  """params - lr_t * direction - wd_t * params, with per-lane lr/wd/warm-up;
  wd_t = wd * lr_t as in optax's AdamW, or wd * schedule with `optim.decoupled_wd`."""
  m = lr_multiplier(step, hp['warmup_steps'], total_steps, optim_cfg.min_lr_ratio)
  lr_t = hp['lr'] * m
  wd_t = hp['weight_decay'] * (m if optim_cfg.decoupled_wd else lr_t)
  mask = decay_mask(params)
  new = jax.tree.map(
      lambda p, d, decay: p - lr_t * d - jnp.where(decay, wd_t, 0.0) * p,
      params, direction_tree, mask)
  return new, lr_t
