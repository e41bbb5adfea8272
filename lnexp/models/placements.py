"""Where a transformer block's norm sits (`model.placement`), one registry line each.

- post: x <- N(x + f(x))  (Vaswani et al. 2017; BERT, ALBERT, the seed article)
- pre:  x <- x + f(N(x)), plus a final norm (Xiong et al. 2020; GPT-2)
- peri: x <- x + N(f(N(x))), plus a final norm (Kim et al. 2025, "Peri-LN").
  This is also CogView's Sandwich-LN (Ding et al. 2021): its reference code
  (THUDM/CogView) has the same two norms per sublayer and the final norm, no
  embedding norm (Peri-LN's is optional, not implemented here), and scaled
  output-layer init (`model.branch_init=gpt2`). Its PB-Relax tricks (LN input
  divided by max|x|/8, attention scores computed in another order) guard fp16
  range; in exact arithmetic they change only LN's effective eps. One model,
  so one registry entry (an alias would train it twice in a sweep).
- rezero: x <- x + a f(x), a learned scalar per sublayer starting at 0; meant
  with norm=none. This is SkipInit exactly (De & Smith 2020: a learnable
  scalar at the end of each residual branch, at 0 or a small value, no
  norm). ReZero (Bachlechner et al. 2020) has the same update, but its
  reference code (majumderb/rezero) shares one scalar between a layer's
  attention and MLP sublayers; here each sublayer has its own.
- deepnorm: x <- N(alpha x + f(x)), alpha = (2L)^(1/4), sublayer weights
  initialised x beta = (8L)^(-1/4) (DeepNet, Wang et al. 2022, decoder-only
  constants; the fused q/k/v projection is scaled whole, the paper scales v)
- lns: pre-LN with each block norm's output x 1/sqrt(l), l the 1-based layer
  index; the final norm unscaled (LayerNorm Scaling, Sun et al. 2025, "The
  Curse of Depth in Large Language Models"; as lmsdss/LayerNorm-Scaling's code)
- mixln: post-LN in the first floor(a L) layers, pre-LN in the rest, a =
  `model.mixln_post_fraction` (0.25 in the paper), plus a final norm as in
  the authors' code (Mix-LN, Li et al. 2024, "Mix-LN: Unleashing the Power of
  Deeper Layers by Combining Pre-LN and Post-LN"). Two depth loops, one per
  run (`stages`): a select inside one loop would compute both (under vmap
  lax.cond is a select), two loops compile a second block. At L=2 the
  paper's a=0.25 gives no post-LN layer: the model is 'pre'.
- hybridnorm: the model's norm on q, k and v per head inside attention and no
  other norm there, x <- x + attn(x); the FFN post-norm in the paper's form,
  h = N(x), x <- h + f(h) (the skip taken after the norm, as its OLMo code's
  ffn_residual_after_norm); a final norm (HybridNorm, Zhuo et al. 2025,
  "HybridNorm: Towards Stable and Efficient Transformer Training via Hybrid
  Normalization"). Its HybridNorm* variant, whose first block is pre-norm in
  both sublayers (QKV-norm kept), is not implemented.
- admin: x <- N(x * omega + f(x)), omega a learned per-feature vector per
  sublayer and depth (per depth even with shared weights), set at init by
  profiling (AlbertGPT._admin_profile: omega_i^2 sums the mean squares of
  the embedding and the earlier sublayers' outputs), then trained, as their
  Transformer-Clinic code does (Admin, Liu et al. 2020, "Understanding the
  Difficulty of Training Transformers"); no final norm (post-LN).
- ngpt: the stream on the unit sphere, h <- Norm(h + |alpha| (Norm(f(h)) - h))
  with learned per-feature alpha per sublayer (from 0.05), the rest of the
  model nGPT's (`hypersphere`; what is implemented and what is not:
  lnexp.models.ngpt); model.norm and model.unembed_init are moot (nGPT,
  Loshchilov et al. 2024, "nGPT: Normalized Transformer with Representation
  Learning on the Hypersphere").

`apply(x, f, site)` gets the sublayer `f` and a `Site`: which sublayer and
layer it is, the depth, and the block's norms and gates by name.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from lnexp.models import ngpt


class Site(NamedTuple):
  """One sublayer as a placement sees it.

  sublayer: 'attn' or 'mlp'. layer: the block's 0-based depth index (a traced
  int32 inside the depth loop). depth: L. norm(suffix, h): the block's norm
  named '<sublayer>_<suffix>'. gate(suffix, init): a learned scalar named
  '<sublayer>_<suffix>'. scale(suffix, init=1): a learned per-feature vector
  named '<sublayer>_<suffix>' (per depth: see `Placement.per_depth`).
  """
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
  consecutive layers, ((count, apply), ...) summing to the depth, each run its
  own depth loop with its own apply (None: one run of `apply`); every run's
  apply must create the same parameters and diagnostics. qkv_norm: attention
  normalizes q, k and v per head with the model's norm. per_depth: block
  parameters '<sublayer>_<suffix>' kept per depth even when the block is
  shared. profiled: each depth's 'attn_omega' and 'mlp_omega' are set at init
  from a forward pass (`AlbertGPT._admin_profile`). hypersphere: the rest of
  the model is nGPT's (unit embeddings, normalized matrices, scaled unit
  queries and keys, s_uv and s_z: lnexp.models.ngpt)."""
  apply: Callable
  final_norm: bool  # a norm before the output layer
  branch_init: Callable[[int], float] = lambda depth: 1.0
  moot_without_norm: bool = True
  stages: Callable | None = None
  qkv_norm: bool = False  # the model's norm on q, k and v per head in attention
  per_depth: tuple[str, ...] = ()  # suffixes of block params never shared across depth
  profiled: bool = False  # '<sublayer>_omega' set at init by Admin's profiling
  hypersphere: bool = False  # nGPT's normalized model (lnexp.models.ngpt)


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
                        final_norm=False, moot_without_norm=False),
    'deepnorm': Placement(
        lambda x, f, s: s.norm('norm', (2 * s.depth) ** 0.25 * x + f(x)),
        final_norm=False, branch_init=lambda depth: (8 * depth) ** -0.25,
        moot_without_norm=False),
    'lns': Placement(_layernorm_scaling, final_norm=True, moot_without_norm=False),
    'mixln': Placement(_pre, final_norm=True, stages=_mixln_stages),
    'hybridnorm': Placement(_hybridnorm, final_norm=True, qkv_norm=True),
    'admin': Placement(_admin, final_norm=False, moot_without_norm=False,
                       per_depth=('omega',), profiled=True),
    'ngpt': Placement(_ngpt, final_norm=False, moot_without_norm=False, hypersphere=True),
}


def stages(cfg) -> list[tuple[int, Callable]]:
  """The placement's runs of layers for a ModelConfig, empty runs dropped."""
  placement = PLACEMENTS[cfg.placement]
  runs = placement.stages(cfg) if placement.stages else ((cfg.num_layers, placement.apply),)
  return [(count, apply) for count, apply in runs if count > 0]
