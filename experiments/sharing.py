"""Claim 11: does LayerNorm matter more when layers share parameters (ALBERT)?

  python -m lnexp.run --config experiments/sharing.py[:quick|:full]

No norm and post-LN at the learned size of lnexp.claims.sizes.learned_config
(d=128, 2 layers, 2,000 steps of 16 x 64 tokens, the untied output layer
initialised at zero so every run starts at ln V; docs/claims-v4-pilots.md),
ALBERT-shared (share=all: one block's parameters) and unshared (share=none:
two), peak LR 1e-3, 3e-3, 1e-2, 3e-2, 1e-1 (grown by a grid step where a
best LR sits at an edge, twice at most), on `topics`, 5 seeds.

Metric: LR sensitivity per variant, sharing and seed under the three
scorings of claims v4 (lnexp.claims.scoring: failures at ln V, failures at
the unigram entropy, stable LRs within 0.1 nats of the best).

--- rule claim-11-v4 ---
Verdict rule, fixed before running (claims v4). Claim 11 (in a model with
shared, fewer parameters "LayerNorm ensures that the smaller parameter space
does not lead to overly aggressive learning rates or unstable gradient
magnitudes"): the interaction over 5 paired seeds, under each of the three
scorings, d = [S(no norm, shared) - S(post-LN, shared)] - [S(no norm,
unshared) - S(post-LN, unshared)] for the two sensitivities and the same
with stable LRs counted the other way round (positive: LayerNorm lowers LR
sensitivity more in the shared model), 95% paired t-interval, minimum
effect delta = 0.05 nats for the sensitivities and 1 LR for stable LRs;
supported / contradicted / no effect / inconclusive per scoring, and
inconclusive whenever any of the four best LRs (mean over seeds) sits at an
edge of its grid after extension. The verdict is the three scorings'
common outcome, else fragile (each shown), named "early training" if
post-LN (shared) at its best LR closes less than 75% of the gap between the
previous-token loss and the Bayes floor (seed mean). The two differences
at each sharing are reported beside.
--- end rule ---
"""
import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Change, Claim, Quote

ORDER = 6
VERSION = 4
RUNTIME = ('100 points of the learned-size claims model: about 100 process-minutes beside '
           'another suite process on a 2-core CPU, over two sessions (2026-12-07).')
SMALLER = Quote('For instance, in AlbertAGPT, which scales down the parameters while '
                'retaining performance, LayerNorm ensures that the smaller parameter space '
                'does not lead to overly aggressive learning rates or unstable gradient '
                'magnitudes.', '11',
                'ALBERT (Lan et al. 2019) shares layers to cut parameters, not compute; no '
                'link from fewer parameters to "aggressive learning rates" is given')
QUOTES = (SMALLER,)
CLAIMS = {'11': Claim('Parameter sharing and LR sensitivity', SMALLER.text)}
CHANGES = (
    Change('claim 11: model', 'd=64, 4 layers, 200 steps', 'the learned size of claim 2 '
           '(d=128, 2 layers, 2,000 steps, zero-initialised output layer)',
           'the v3 models had not learned the task; 4 layers would double the cost'),
    Change('claim 11: scoring', 'one sensitivity (a diverged run at ln V)',
           'the interaction under the three scorings, fragile unless they agree',
           'how failures are scored decided claim 2 in v3'),
    Change('claim 11: seeds and grid', '3 seeds, a fixed grid', '5 seeds, the grid extended '
           'at an edge', 'power; bracketed optima'),
)


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = sizes.learned_config(size)
  c.data.source = 'topics'
  c.optim.lr_extend = sizes.lr_extend(size)
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  names = ('layernorm-post',) if size == 'smoke' else ('none', 'layernorm-post')
  lrs = {'smoke': (1e-2,), 'quick': (1e-3, 1e-2, 1e-1)}.get(size, sizes.LEARNED_LRS)
  return [{**sizes.LEARNED_VARIANTS[n], 'model.share': share, 'optim.lr': lr, **seed}
          for n in names for share in ('all', 'none')
          for seed in sizes.seeds(size, headline=True) for lr in lrs]


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claim 11: LayerNorm's effect on LR sensitivity, shared vs unshared, three scorings."""
  from lnexp.claims import evidence as ev  # the report's extra: running needs none of it
  from lnexp.claims import scoring
  df = ev.load(workdir, point_ids)
  df['share'] = np.where(df['model.share'].eq('all'), 'shared', 'unshared')
  return scoring.interaction(
      df, 'share', ('shared', 'unshared'), '11', 'Per variant and sharing (2 layers, topics)',
      'LayerNorm lowers LR sensitivity more when layers are shared')
