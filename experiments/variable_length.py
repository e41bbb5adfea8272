"""Claim 12: does variable-length text destabilise training without LayerNorm?

  python -m lnexp.run --config experiments/variable_length.py[:quick|:full]

No norm (fair init) and post-LN on synthetic documents (mean length 48, rows
of 64 tokens), packed (every position a real token) and padded (one document
per row, PAD after its end), peak LR 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 300 steps,
batch 16, 3 seeds.

Metric: LR sensitivity with the common reference (lnexp.analysis.sensitivity),
per variant, data layout and seed.

--- rule claim-12 ---
Verdict rule, fixed before running. Claim 12 ("the variability in sentence
length and structure can cause instability if not properly managed", with
LayerNorm as the management): the interaction over 3 seeds, d = [S(no norm,
padded) - S(post-LN, padded)] - [S(no norm, packed) - S(post-LN, packed)]
(positive: LayerNorm lowers LR sensitivity more on variable-length rows), 95%
paired t-interval, minimum effect delta = 0.05 nats; supported / contradicted
/ no effect / inconclusive. The padded difference alone and run labels are
reported beside.
--- end rule ---
"""
import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Claim, Quote

ORDER = 7
RUNTIME = ('60 points, 3.8 process-minutes on a 2-core CPU (2026-12-05; about half that '
           'with --jobs 2).')
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


def get_config(arg=''):
  return sizes.claims_config(sizes.size_of(arg))


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  names = ('none',) if size == 'smoke' else ('none', 'layernorm-post')
  lrs = {'smoke': (1e-2,), 'quick': (1e-3, 1e-2, 1e-1)}.get(size,
                                                            (1e-3, 3e-3, 1e-2, 3e-2, 1e-1))
  return [{**sizes.VARIANTS[n], 'data.pack': pack, 'optim.lr': lr, **seed}
          for n in names for pack in (True, False) for seed in sizes.seeds(size)
          for lr in lrs]


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claim 12: LayerNorm's effect on LR sensitivity, padded vs packed rows."""
  from lnexp.claims import evidence as ev  # the report's extra: running needs none of it
  df = ev.load(workdir, point_ids)
  df['rows'] = np.where(df['data.pack'].astype(bool), 'packed', 'padded')
  return ev.sensitivity_interaction(
      df, 'rows', ('padded', 'packed'), '12',
      'Per variant and row layout (synthetic documents): runs trained/collapsed/diverged; '
      'best LR (seed-mean); LR sensitivity with the ln V reference (mean ± sd over seeds).')
