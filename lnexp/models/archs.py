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
  """A model family. costs(cfg): one lane's estimates from shapes, {'params',
  'activations' (kept for the backward pass, logits aside), 'flops', optionally
  'blocks' (depth steps run one after another)}."""
  model: type[nn.Module]  # the Flax module
  takes_norm: Callable[[Norm], bool]  # which registered norms fit
  reads: tuple[str, ...]  # the model.* keys it reads (any other stays at its default)
  costs: Callable[..., dict]
  placements: tuple[str, ...] = ()  # the model.placement values it implements
  check: Callable = lambda cfg: None  # ConfigError where its keys do not fit together
  images: bool = False  # it classifies images (results report accuracy)
  norm_free_placement: bool = False  # with an identity norm, every placement is one model
  per_depth: bool = False  # per-block diagnostics, ICS, perturbation, batch-1 BN eval apply
  probes: str = 'depth'  # its grad-flow probes follow each 'depth' (block) or 'time' step
  layer_params: tuple[str, ...] | None = None  # path of its per-depth stacked parameters
  input_params: tuple[str, ...] = ()  # names of its parameters before the first block

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
