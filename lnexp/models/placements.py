"""Where a transformer block's norm sits (`model.placement`), one registry line each.

- post: x <- N(x + f(x))  (Vaswani et al. 2017; BERT, ALBERT, the seed article)
- pre:  x <- x + f(N(x)), plus a final norm (Xiong et al. 2020; GPT-2)
- peri: x <- x + N(f(N(x))), plus a final norm (Kim et al. 2025, "Peri-LN")
- rezero: x <- x + a f(x), a learned scalar per sublayer starting at 0 (ReZero,
  Bachlechner et al. 2020; SkipInit, De & Smith 2020); meant with norm=none
- deepnorm: x <- N(alpha x + f(x)), alpha = (2L)^(1/4), sublayer weights
  initialised x beta = (8L)^(-1/4) (DeepNet, Wang et al. 2022, decoder-only
  constants; the fused q/k/v projection is scaled whole, the paper scales v)

`apply` gets the sublayer `f`, `norm(suffix, h)` (the block's norm named
`<sublayer>_<suffix>`), `gate(suffix, init)` (a learned scalar named
`<sublayer>_<suffix>`) and the depth L.
"""
from __future__ import annotations

import dataclasses
from typing import Callable


@dataclasses.dataclass(frozen=True)
class Placement:
  """apply(x, f, norm, gate, depth) -> x. branch_init(depth): the factor on the
  init std of each sublayer's weights (DeepNorm's beta). moot_without_norm:
  with an identity norm the placement is the same model as 'pre'."""
  apply: Callable
  final_norm: bool  # a norm before the output layer
  branch_init: Callable[[int], float] = lambda depth: 1.0
  moot_without_norm: bool = True


PLACEMENTS: dict[str, Placement] = {
    'post': Placement(lambda x, f, norm, gate, depth: norm('norm', x + f(x)),
                      final_norm=False),
    'pre': Placement(lambda x, f, norm, gate, depth: x + f(norm('norm', x)),
                     final_norm=True),
    'peri': Placement(lambda x, f, norm, gate, depth: x + norm('out_norm', f(norm('norm', x))),
                      final_norm=True),
    'rezero': Placement(lambda x, f, norm, gate, depth: x + gate('gate', 0.0) * f(x),
                        final_norm=False, moot_without_norm=False),
    'deepnorm': Placement(
        lambda x, f, norm, gate, depth: norm('norm', (2 * depth) ** 0.25 * x + f(x)),
        final_norm=False, branch_init=lambda depth: (8 * depth) ** -0.25,
        moot_without_norm=False),
}
