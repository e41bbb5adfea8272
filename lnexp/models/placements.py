"""Where a transformer block's norm sits (`model.placement`), one registry line each.

post (Vaswani et al. 2017), pre (Xiong et al. 2020), peri (Peri-LN, Kim et al.
2025; CogView's Sandwich-LN, Ding et al. 2021), rezero (Bachlechner et al.
2020; SkipInit, De & Smith 2020), deepnorm (Wang et al. 2022), lns (LayerNorm
Scaling, Sun et al. 2025), mixln (Li et al. 2024), hybridnorm (Zhuo et al.
2025), admin (Liu et al. 2020), ngpt (Loshchilov et al. 2024, lnexp.models.ngpt).
Update rules and what differs from the reference code: docs/variants.md.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from lnexp.models import ngpt


class Site(NamedTuple):
  """One sublayer ('attn' or 'mlp') as a placement sees it: its 0-based layer
  (traced in the depth loop), the depth L, and the block's norm(suffix, h),
  gate(suffix, init) (a learned scalar) and scale(suffix, init=1) (a learned
  per-feature vector), each named '<sublayer>_<suffix>'."""
  sublayer: str
  layer: Any
  depth: int
  norm: Callable
  gate: Callable
  scale: Callable


@dataclasses.dataclass(frozen=True)
class Placement:
  """apply(x, f, site) -> x. branch_init(depth): the factor on the init std of
  each sublayer's weights (DeepNorm's beta). moot_without_norm: with an
  identity norm the placement is the same model as 'pre'. stages(cfg): runs of
  consecutive layers, ((count, apply), ...) summing to the depth, each its own
  depth loop (None: one run of `apply`); every run's apply must create the same
  parameters and diagnostics."""
  apply: Callable
  final_norm: bool  # a norm before the output layer
  branch_init: Callable[[int], float] = lambda depth: 1.0
  moot_without_norm: bool = True
  stages: Callable | None = None
  qkv_norm: bool = False  # the model's norm on q, k and v per head in attention
  per_depth: tuple[str, ...] = ()  # suffixes of block params never shared across depth
  profiled: bool = False  # '<sublayer>_omega' set at init by Admin's profiling
  hypersphere: bool = False  # nGPT's normalized model (lnexp.models.ngpt)
  calls_norm: bool = True  # False: model.norm is moot (`canonical` maps it to 'none')


def _post(x, f, s):
  return s.norm('norm', x + f(x))


def _pre(x, f, s):
  return x + f(s.norm('norm', x))


def _mixln_stages(cfg):
  post = math.floor(round(cfg.mixln_post_fraction * cfg.num_layers, 9))
  return (post, _post), (cfg.num_layers - post, _pre)


def _hybridnorm(x, f, s):
  if s.sublayer == 'attn':  # normalized inside: Placement.qkv_norm
    return x + f(x)
  h = s.norm('norm', x)
  return h + f(h)


def _admin(x, f, s):
  return s.norm('norm', x * s.scale('omega').astype(x.dtype) + f(x))


def _ngpt(x, f, s):
  base = x.shape[-1] ** -0.5
  alpha = jnp.abs(ngpt.scaled(s.scale('alpha', base), ngpt.ALPHA_INIT, base)).astype(x.dtype)
  h = ngpt.unit(x)
  return ngpt.unit(h + alpha * (ngpt.unit(f(x)) - h))


def _layernorm_scaling(x, f, s):
  h = s.norm('norm', x)
  return x + f(h * jax.lax.rsqrt(s.layer + 1.0).astype(h.dtype))


PLACEMENTS: dict[str, Placement] = {
    'post': Placement(_post, final_norm=False),
    'pre': Placement(_pre, final_norm=True),
    'peri': Placement(lambda x, f, s: x + s.norm('out_norm', f(s.norm('norm', x))),
                      final_norm=True),
    'rezero': Placement(lambda x, f, s: x + s.gate('gate', 0.0) * f(x),
                        final_norm=False, moot_without_norm=False, calls_norm=False),
    'deepnorm': Placement(
        lambda x, f, s: s.norm('norm', (2 * s.depth) ** 0.25 * x + f(x)),
        final_norm=False, branch_init=lambda depth: (8 * depth) ** -0.25,
        moot_without_norm=False),
    'lns': Placement(_layernorm_scaling, final_norm=True, moot_without_norm=False),
    'mixln': Placement(_pre, final_norm=True, stages=_mixln_stages),
    'hybridnorm': Placement(_hybridnorm, final_norm=True, qkv_norm=True),
    'admin': Placement(_admin, final_norm=False, moot_without_norm=False,
                       per_depth=('omega',), profiled=True),
    'ngpt': Placement(_ngpt, final_norm=False, moot_without_norm=False, hypersphere=True,
                      calls_norm=False),
}


def stages(cfg) -> list[tuple[int, Callable]]:
  """The placement's runs of layers for a ModelConfig, empty runs dropped."""
  placement = PLACEMENTS[cfg.placement]
  runs = placement.stages(cfg) if placement.stages else ((cfg.num_layers, placement.apply),)
  return [(count, apply) for count, apply in runs if count > 0]
