"""Where a transformer block's norm sits (`model.placement`), one registry line each.

- post: x <- N(x + f(x))  (Vaswani et al. 2017; BERT, ALBERT, the seed article)
- pre:  x <- x + f(N(x)), plus a final norm (Xiong et al. 2020; GPT-2)
- peri: x <- x + N(f(N(x))), plus a final norm (Kim et al. 2025, "Peri-LN")

`apply(x, f, norm)` gets the sublayer `f` and `norm(suffix, h)`, which builds
the block's norm named `<sublayer>_<suffix>`.
"""
from __future__ import annotations

import dataclasses
from typing import Callable


@dataclasses.dataclass(frozen=True)
class Placement:
  apply: Callable
  final_norm: bool  # a norm before the output layer


PLACEMENTS: dict[str, Placement] = {
    'post': Placement(lambda x, f, norm: norm('norm', x + f(x)), final_norm=False),
    'pre': Placement(lambda x, f, norm: x + f(norm('norm', x)), final_norm=True),
    'peri': Placement(lambda x, f, norm: x + norm('out_norm', f(norm('norm', x))),
                      final_norm=True),
}
