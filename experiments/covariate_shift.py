"""Claim 5: does LayerNorm reduce internal covariate shift?

  python -m lnexp.run --config experiments/covariate_shift.py[:quick|:full]

No norm (fair init), post-LN and pre-LN, 4 layers, unshared (share=none:
Santurkar et al.'s definition needs a layer's own weights) and ALBERT-shared
(share=all), peak LR 1e-3, 3e-3 and 1e-2, 3 seeds, 200 steps on `topics`;
diagnostics and Santurkar ICS every 20 steps. 54 points, 6.7 process-minutes
on a 2-core CPU (2026-12-05; about half that with --jobs 2).

Metrics:
- ICS (Santurkar et al. 2018): ||G_i - G_i'|| / ||G_i||, layer i's weight
  gradient before and after the layers below it took this step's update,
  averaged over layers and diagnostic steps (unshared models);
- drift, beside it: RMS change of the feature means of what each sublayer
  sees (its input: the norm output in pre-LN, the residual stream in post-LN
  and without a norm) between diagnostics, divided by that input's RMS spread,
  averaged over sublayers, depth and training (shared and unshared models).

--- rule claim-5 ---
Verdict rule, fixed before running. Claim 5 (LayerNorm reduces internal
covariate shift), on the unshared models: at each LR and for each of post-LN
and pre-LN, the paired difference over seeds of log ICS, d = log ICS(no norm)
- log ICS(LayerNorm) (positive: LayerNorm less shift), 95% paired t-interval,
minimum effect delta = log 1.25. Runs that diverged or collapsed are missing,
which makes that comparison inconclusive. Verdict: the common outcome of the
six comparisons if they agree, else mixed. Whether shift predicts the result:
Spearman correlation of ICS and final eval loss within each LR (not pooled),
reported without a verdict; relative drift of the shared and unshared models
reported beside.
--- end rule ---
"""
from lnexp.claims import sizes


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = sizes.claims_config(size, steps=200)
  c.model.num_layers = 4
  c.data.source = 'topics'
  every = max(c.train.steps // 10, 1)
  c.diagnostics.every = c.diagnostics.ics_every = every
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  names = ('layernorm-post',) if size == 'smoke' else sizes.HEADLINE[:3]
  shares = ('none',) if size in ('smoke', 'quick') else ('none', 'all')
  lrs = {'smoke': (1e-2,), 'quick': (3e-3,)}.get(size, (1e-3, 3e-3, 1e-2))
  return [{**sizes.VARIANTS[n], 'model.share': share, 'optim.lr': lr, **seed}
          for n in names for share in shares for seed in sizes.seeds(size) for lr in lrs]
