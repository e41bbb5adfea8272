"""Claim 13 and Xu et al. 2019: what part of LayerNorm does the work?

  python -m lnexp.run --config experiments/mechanism.py[:quick|:full]

Post-LN (the article's model, GPT-2 branch init) with three norms on `topics`:
LayerNorm; LayerNorm-simple (no gain and bias); DetachNorm (LayerNorm-simple
whose mean and variance are constants in the backward pass; Xu et al. 2019,
"Understanding and Improving Layer Normalization"). Peak LR 1e-3, 3e-3, 1e-2
(grown by a grid step where the best sits at an edge, twice at most), 300
steps, 3 seeds. 27 points (30 after grid extension), 2.2 process-minutes on a
2-core CPU (2026-12-05; about half that with --jobs 2).

Metric: final eval loss at each variant's best LR (mean over seeds; a
diverged run at ln V), per seed.

--- rule claim-13 ---
Verdict rule, fixed before running, over 3 seeds by 95% paired t-intervals
with minimum effect delta = 0.02 nats; a best LR at an edge of its grid after
extension makes a comparison inconclusive. Claim 13 (the gain and bias let
"the model to retain the expressiveness of its activations"): d =
loss(LayerNorm-simple) - loss(LayerNorm) (positive: gain and bias help);
supported / contradicted / no effect / inconclusive. Xu et al. 2019 (the
backward pass through the statistics matters, not only standardizing the
forward activations) is reproduced if d = loss(DetachNorm) -
loss(LayerNorm-simple) is supported.
--- end rule ---
"""
from lnexp.claims import sizes

NORMS = ('layernorm', 'layernorm_simple', 'detachnorm')


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = sizes.claims_config(size)
  c.data.source = 'topics'
  c.optim.lr_extend = sizes.lr_extend(sizes.size_of(arg))
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  norms = NORMS[2:] if size == 'smoke' else NORMS
  lrs = {'smoke': (1e-2,), 'quick': (3e-3, 1e-2)}.get(size, (1e-3, 3e-3, 1e-2))
  return [{'model.norm': n, 'model.placement': 'post', 'optim.lr': lr, **seed}
          for n in norms for seed in sizes.seeds(size) for lr in lrs]
