"""Claim 11: does LayerNorm matter more when layers share parameters (ALBERT)?

  python -m lnexp.run --config experiments/sharing.py[:quick|:full]

No norm (fair init) and post-LN, 4 layers, ALBERT-shared (share=all) and
unshared (share=none), peak LR 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 200 steps on
`topics`, 3 seeds.

Metric: LR sensitivity with the common reference (lnexp.analysis.sensitivity:
mean over the grid of min(final eval loss, ln V) minus the best; a diverged
run at ln V), per variant, share and seed.

--- rule claim-11 ---
Verdict rule, fixed before running. Claim 11 (in a model with shared,
fewer parameters "LayerNorm ensures that the smaller parameter space does not
lead to overly aggressive learning rates or unstable gradient magnitudes"):
the interaction over 3 seeds, d = [S(no norm, shared) - S(post-LN, shared)] -
[S(no norm, unshared) - S(post-LN, unshared)] (positive: LayerNorm lowers LR
sensitivity more in the shared model), 95% paired t-interval, minimum effect
delta = 0.05 nats; supported / contradicted / no effect / inconclusive. The
two differences on their own are reported beside.
--- end rule ---
"""
import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Claim, Quote

ORDER = 6
RUNTIME = ('60 points, 6.3 process-minutes on a 2-core CPU (2026-12-05; about half that '
           'with --jobs 2).')
SMALLER = Quote('For instance, in AlbertAGPT, which scales down the parameters while '
                'retaining performance, LayerNorm ensures that the smaller parameter space '
                'does not lead to overly aggressive learning rates or unstable gradient '
                'magnitudes.', '11',
                'ALBERT (Lan et al. 2019) shares layers to cut parameters, not compute; no '
                'link from fewer parameters to "aggressive learning rates" is given')
QUOTES = (SMALLER,)
CLAIMS = {'11': Claim('Parameter sharing and LR sensitivity', SMALLER.text)}


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = sizes.claims_config(size, steps=200)
  c.model.num_layers = 4
  c.data.source = 'topics'
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  names = ('layernorm-post',) if size == 'smoke' else ('none', 'layernorm-post')
  lrs = {'smoke': (1e-2,), 'quick': (1e-3, 1e-2, 1e-1)}.get(size,
                                                            (1e-3, 3e-3, 1e-2, 3e-2, 1e-1))
  return [{**sizes.VARIANTS[n], 'model.share': share, 'optim.lr': lr, **seed}
          for n in names for share in ('all', 'none') for seed in sizes.seeds(size)
          for lr in lrs]


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claim 11: LayerNorm's effect on LR sensitivity, shared vs unshared layers."""
  from lnexp.claims import evidence as ev  # the report's extra: running needs none of it
  df = ev.load(workdir, point_ids)
  df['share'] = np.where(df['model.share'].eq('all'), 'shared', 'unshared')
  return ev.sensitivity_interaction(
      df, 'share', ('shared', 'unshared'), '11',
      'Per variant and sharing (4 layers, topics): runs trained/collapsed/diverged; best '
      'LR (seed-mean); LR sensitivity with the ln V reference (mean ± sd over seeds).')
