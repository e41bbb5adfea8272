"""The model families (`model.arch`), one registry line each, declaring all the
engine needs from the family. Every model maps a batch's inputs to [B, T, V]
logits (the CNN: [B, 1, classes]), so loss, eval, lanes and diagnostics apply.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import flax.linen as nn

from lnexp.models import cnn, lstm, model
from lnexp.models.norms import NORMS, Norm
from lnexp.models.placements import PLACEMENTS

# model.* keys every family reads (besides model.arch and model.vocab_size).
COMMON_KEYS = ('norm', 'hidden_dim', 'init_scale', 'use_bias', 'norm_eps', 'bn_momentum')


@dataclasses.dataclass(frozen=True)
class Arch:
  """model: the Flax module. takes_norm: which registered norms fit. reads: the
  model.* keys it reads (any other must stay at its default). placements: the
  model.placement values it implements. check(cfg): ConfigError where its keys
  do not fit together. costs(cfg): one lane's estimates from shapes, {'params',
  'activations' (kept for the backward pass, logits aside), 'flops', optionally
  'blocks' (depth steps run one after another)}. images: it classifies images
  (results report accuracy). norm_free_placement: with an identity norm every
  placement is the same model. per_depth: per-block diagnostics, Santurkar ICS,
  the perturbation and batch-1 BatchNorm eval apply. probes: its grad-flow
  probes follow each 'depth' (block) or 'time' step. layer_params /
  input_params: paths of its per-depth stacked parameters and names of those
  before the first block."""
  model: type[nn.Module]
  takes_norm: Callable[[Norm], bool]
  reads: tuple[str, ...]
  costs: Callable[..., dict]
  placements: tuple[str, ...] = ()
  check: Callable = lambda cfg: None
  images: bool = False
  norm_free_placement: bool = False
  per_depth: bool = False
  probes: str = 'depth'
  layer_params: tuple[str, ...] | None = None
  input_params: tuple[str, ...] = ()

  def norms(self) -> tuple[str, ...]:
    return tuple(name for name, norm in NORMS.items() if self.takes_norm(norm))


ARCHS: dict[str, Arch] = {
    'albert_gpt': Arch(
        model.AlbertGPT, lambda n: n.tokens is not None, COMMON_KEYS + (
            'placement', 'share', 'num_layers', 'embed_dim', 'num_heads', 'mlp_dim',
            'qk_norm', 'pos', 'embed_scale', 'tie_embeddings', 'unembed_init', 'bn_axes',
            'bn_share_stats', 'dyt_alpha_init', 'derf_alpha_init', 'dtype', 'attention',
            'scan_unroll', 'branch_init', 'mixln_post_fraction'),
        model.costs, placements=tuple(PLACEMENTS), check=model.check,
        norm_free_placement=True, per_depth=True, layer_params=model.LAYER_PARAMS,
        input_params=model.INPUT_PARAMS),
    'lstm': Arch(lstm.LSTMLM, lambda n: n.tokens is not None and n.recurrent,
                 COMMON_KEYS + ('embed_dim', 'unembed_init'), lstm.costs, probes='time'),
    'cnn': Arch(cnn.CNN, lambda n: n.images is not None, COMMON_KEYS + (
        'placement', 'num_layers', 'dyt_alpha_init', 'groups', 'dtype', 'unembed_init'),
        cnn.costs, placements=tuple(cnn.BLOCKS), check=cnn.check, images=True),
}
