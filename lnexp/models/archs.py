"""The model families (`model.arch`), one registry line each.

Every model maps a batch's inputs to [B, T, V] logits (the CNN: [B, 1,
classes]), so the loss, eval, lanes and diagnostics apply unchanged. Which
norms an arch takes follows from the norm registry (`lnexp.models.norms.NORMS`).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import flax.linen as nn

from lnexp.models import cnn, lstm
from lnexp.models.model import AlbertGPT
from lnexp.models.norms import NORMS, Norm
from lnexp.models.placements import PLACEMENTS


@dataclasses.dataclass(frozen=True)
class Arch:
  """model: the Flax module. placements/shares: the values it implements (None:
  the key does not apply, and canonical configs set its default). images: it
  classifies images (results report accuracy). takes_norm: which registered norms
  fit. norm_free_placement: without a norm (an identity), every placement is the
  same model. per_depth: diagnostics, Santurkar ICS, the residual-stream
  perturbation and batch-1 BatchNorm eval apply (a depth axis of blocks)."""
  model: type[nn.Module]
  takes_norm: Callable[[Norm], bool]
  placements: tuple[str, ...] | None
  shares: tuple[str, ...] | None
  images: bool = False
  norm_free_placement: bool = False
  per_depth: bool = False

  def norms(self) -> tuple[str, ...]:
    return tuple(name for name, norm in NORMS.items() if self.takes_norm(norm))


ARCHS: dict[str, Arch] = {
    'albert_gpt': Arch(AlbertGPT, lambda n: n.tokens is not None, tuple(PLACEMENTS),
                       ('all', 'attention', 'ffn', 'none'), norm_free_placement=True,
                       per_depth=True),
    'lstm': Arch(lstm.LSTMLM, lambda n: n.tokens is not None and n.recurrent, None, None),
    'cnn': Arch(cnn.CNN, lambda n: n.images is not None, tuple(cnn.BLOCKS), None,
                images=True),
}
