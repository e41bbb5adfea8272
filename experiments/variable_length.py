"""Claim 12: does variable-length text destabilise training without LayerNorm?

  python -m lnexp.run --config experiments/variable_length.py[:quick|:full]

No norm and post-LN at the learned size of lnexp.claims.sizes.learned_config
(d=128, 2 ALBERT-shared layers, 2,000 steps of 16 x 64 tokens, the untied
output layer initialised at zero so every run starts at ln V), on `topics`
documents (mean length 48) in rows of 64 tokens, packed (every position a
real token, documents run across rows) and padded (one document per row,
PAD after its end, so rows carry 1 to 64 real tokens); peak LR 1e-3, 3e-3,
1e-2, 3e-2, 1e-1 (grown by a grid step where a best LR sits at an edge,
twice at most), 5 seeds. docs/claims-v4-pilots.md (section 5) has the pilot
of post-LN on padded rows at this size.

Metric: LR sensitivity per variant, row layout and seed under the three
scorings of claims v4 (lnexp.claims.scoring: failures at ln V, failures at
the unigram entropy, stable LRs within 0.1 nats of the best).

--- rule claim-12-v4 ---
Verdict rule, fixed before running (claims v4). Claim 12 ("the variability
in sentence length and structure can cause instability if not properly
managed", with LayerNorm as the management): the interaction over 5 paired
seeds, under each of the three scorings, d = [S(no norm, padded) -
S(post-LN, padded)] - [S(no norm, packed) - S(post-LN, packed)] for the two
sensitivities and the same with stable LRs counted the other way round
(positive: LayerNorm lowers LR sensitivity more on variable-length rows),
95% paired t-interval, minimum effect delta = 0.05 nats for the
sensitivities and 1 LR for stable LRs; supported / contradicted / no effect
/ inconclusive per scoring, and inconclusive whenever any of the four best
LRs (mean over seeds) sits at an edge of its grid after extension. The
verdict is the three scorings' common outcome, else fragile (each shown),
named "early training" if post-LN on padded rows at its best LR closes less
than 75% of the gap between the previous-token loss and the Bayes floor
(seed mean). The two differences at each layout are reported beside.
--- end rule ---
"""
import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Change, Claim, Quote

ORDER = 7
VERSION = 4
RUNTIME = ('100 points of the learned-size claims model (no grid extension needed): 109 '
           'process-minutes beside another suite process on a 2-core CPU (2026-12-07).')
VARIABILITY = Quote('For example, during the training of AlbertAGPT on large-scale '
                    'datasets, the variability in sentence length and structure can cause '
                    'instability if not properly managed.', '12', sizes.NO_ALBERTAGPT)
# The article's next sentence, quoted here with it, is decided by claim 2's rule.
SCALED = Quote('Layer normalization ensures that each token’s contextual representation '
               'is scaled appropriately, allowing the model to maintain a steady learning '
               'rate and prevent divergence, even when dealing with complex input '
               'sequences.', '2')
QUOTES = (VARIABILITY, SCALED)
CLAIMS = {'12': Claim('Variable-length text without a norm',
                      f'{VARIABILITY.text} {SCALED.text}')}
CHANGES = (
    Change('claim 12: model and data', 'd=64, 300 steps, synthetic documents',
           'the learned size of claim 2 (d=128, 2,000 steps, zero-initialised output '
           'layer) on topics documents', 'the v3 models had not learned the task; topics '
           'has exact floors to check that they have'),
    Change('claim 12: scoring', 'one sensitivity (a diverged run at ln V)',
           'the interaction under the three scorings, fragile unless they agree',
           'how failures are scored decided claim 2 in v3'),
    Change('claim 12: seeds and grid', '3 seeds, a fixed grid', '5 seeds, the grid extended '
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
  names = ('none',) if size == 'smoke' else ('none', 'layernorm-post')
  lrs = {'smoke': (1e-2,), 'quick': (1e-3, 1e-2, 1e-1)}.get(size, sizes.LEARNED_LRS)
  return [{**sizes.LEARNED_VARIANTS[n], 'data.pack': pack, 'optim.lr': lr, **seed}
          for n in names for pack in (False, True)
          for seed in sizes.seeds(size, headline=True) for lr in lrs]


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claim 12: LayerNorm's effect on LR sensitivity, padded vs packed, three scorings."""
  from lnexp.claims import evidence as ev  # the report's extra: running needs none of it
  from lnexp.claims import scoring
  df = ev.load(workdir, point_ids)
  df['rows'] = np.where(df['data.pack'].astype(bool), 'packed', 'padded')
  return scoring.interaction(
      df, 'rows', ('padded', 'packed'), '12',
      'Per variant and row layout (2 layers, topics documents)',
      'LayerNorm lowers LR sensitivity more on padded, variable-length rows')
