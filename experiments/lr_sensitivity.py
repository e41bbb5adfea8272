"""Claim 2: learning-rate sensitivity, against fair and norm-free baselines.

  python -m lnexp.run --config experiments/lr_sensitivity.py[:quick|:full]

Core: the five headline variants of lnexp.claims.sizes (no norm with its
fair init, post-LN, pre-LN, ReZero, DeepNorm) x 7 peak LRs 3e-4..3e-1 x 5
seeds on two datasets: `topics` (synthetic documents whose latent topic must
be inferred from context; exact Bayes floor) and CPython's docs
(python_docs, bytes). Literature arms on topics, 3 seeds: pre-LN+qk_norm
(Wortsman et al. 2023), DyT post and pre (Zhu et al. 2025). The LR grid of a
variant whose best LR (mean over seeds) sits at an edge grows by one grid step
on that side, at most twice (optim.lr_extend). 413 points of the claims model
(lnexp.claims.sizes), 300 steps: 29.8 process-minutes on a 2-core CPU
(2026-12-05; shards of 16 and 14 minutes under --jobs 2). --full adds
RMSNorm, BatchNorm and z-loss arms.
`:accel` (one GPU or TPU): no norm, post-LN and pre-LN, shared and unshared, at
d=256 and 8 layers, 3 LRs x 2 init seeds as lanes, 30.7M tokens per run: 36 runs.

Metric (lnexp.analysis.sensitivity): LR sensitivity with a common reference,
mean over the grid of min(final eval loss, ln V) minus the grid's best, a
diverged run counting at ln V; Wortsman et al.'s own-init version beside it.

--- rule claim-2 ---
Verdict rule, fixed before running. Claim 2 ("training can proceed smoothly
across a wider range of learning rates"): for each dataset and each of
post-LN and pre-LN, the paired difference over the 5 seeds of the common-
reference LR sensitivity, d = S(no norm) - S(LayerNorm) (positive: LayerNorm
less sensitive), 95% paired t-interval, minimum effect delta = 0.05 nats.
Outcome per comparison: supported (interval above +delta), contradicted
(below -delta), no effect (inside +-delta), inconclusive otherwise, and
inconclusive whenever either variant's best LR (mean over seeds) is at an
edge of its grid after extension. Verdict: the common outcome of the four
comparisons if they agree, else mixed (each listed). The same intervals
against ReZero and DeepNorm are reported beside, without a verdict; so are the
counts of trained, collapsed and diverged runs per variant.
Literature checks on topics (3 seeds, same interval and delta): Wortsman et
al. 2023 is reproduced if d = S(pre-LN) - S(pre-LN+qk_norm) is supported;
Zhu et al. 2025 (DyT matches LayerNorm) is reproduced if the best-LR final
eval loss of DyT minus LayerNorm, same placement, is "no effect" at
delta = 0.05 nats for both placements.
--- end rule ---
"""
from lnexp.claims import sizes

HEADLINE = sizes.variants(*sizes.HEADLINE)
ARMS = ({'model.norm': 'layernorm', 'model.placement': 'pre', 'model.qk_norm': True},
        {'model.norm': 'dyt', 'model.placement': 'post'},
        {'model.norm': 'dyt', 'model.placement': 'pre'})
FULL_ARMS = ({'model.norm': 'rmsnorm', 'model.placement': 'pre'},
             {'model.norm': 'batchnorm', 'model.placement': 'post'},
             {'model.norm': 'layernorm', 'model.placement': 'pre', 'optim.z_loss': 1e-4})


def get_config(arg=''):
  c = sizes.claims_config(sizes.size_of(arg))
  c.optim.lr_extend = sizes.lr_extend(sizes.size_of(arg))
  return c


def variants(size):
  """(data overrides, model variant, seeds) of the sweep."""
  topics, docs = {'data.source': 'topics'}, {'data.source': 'python_docs'}
  if size == 'smoke':  # one group: the test suite's run of the whole suite
    return [(topics, sizes.VARIANTS['layernorm-post'], sizes.seeds(size))]
  if size == 'quick':  # no norm against post- and pre-LN, topics only
    return [(topics, v, sizes.seeds(size)) for v in HEADLINE[:3]]
  if size == 'accel':  # shared (~0.8M parameters) and unshared (~6M), topics
    return [({**topics, 'model.share': share}, v, sizes.seeds(size))
            for share in ('all', 'none') for v in HEADLINE[:3]]
  main = [(data, v, sizes.seeds(size, headline=True)) for data in (topics, docs)
          for v in HEADLINE]
  arms = ARMS + (FULL_ARMS if size == 'full' else ())
  return main + [(topics, v, sizes.seeds(size)) for v in arms]


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  return [{**data, **variant, **seed, 'optim.lr': lr}
          for data, variant, seeds in variants(size)
          for seed in seeds for lr in sizes.lrs(size)]
