"""Claim 7: LayerNorm vs BatchNorm on variable-length sequences, small batches.

  python -m lnexp.run --config experiments/batchnorm_text.py[:quick|:full]

Padded variable-length documents (data.pack=False: one synthetic document per
row, PAD after its end), post placement, batch 2, 8 and 32, peak LR 3e-3,
1e-2 and 3e-2, 300 steps, 3 seeds: LayerNorm; BatchNorm with causal-safe
statistics per position over the batch (bn_axes=batch); and BatchNorm with
statistics over batch and time (bn_axes=batch_time), which leaks future
tokens into the past and is reported apart. 81 points; about 12 minutes in
one process on a 2-core CPU (two ~7-minute shards under `lnexp.claims --jobs 2`).

Metrics: best final eval loss over the three LRs (running statistics for
BatchNorm); the train/inference mismatch, eval loss with running statistics
minus eval loss of the same eval batches normalized with their own batch
statistics; the distance between batch and running statistics (Shen et al.
2020, `depth/*_norm/bn_{mean,var}_dist`) at the end.

--- rule claim-7 ---
Verdict rule, fixed before running: supported if LayerNorm's best eval loss is
below causal BatchNorm's at every batch size in every seed; not supported if
it is above at every batch size in every seed; mixed otherwise. The leak of
bn_axes=batch_time is shown by its batch-statistics eval loss falling below
the entropy floor of the data. Shen et al. 2020 (BatchNorm's batch statistics
fluctuate more in small batches) is reproduced if causal BatchNorm's
batch-vs-running statistic distance at batch 2 exceeds that at batch 32 in
every seed.
--- end rule ---
"""
from lnexp.claims import sizes

VARIANTS = ({'model.norm': 'layernorm'},
            {'model.norm': 'batchnorm', 'model.bn_axes': 'batch'},
            {'model.norm': 'batchnorm', 'model.bn_axes': 'batch_time'})


def get_config(arg=''):
  c = sizes.claims_config(sizes.size_of(arg))
  c.data.pack = False
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  batches = {'smoke': (4,), 'quick': (2, 32)}.get(size, (2, 8, 32))
  lrs = (1e-2, 3e-2) if size in ('smoke', 'quick') else (3e-3, 1e-2, 3e-2)
  variants = VARIANTS[1:2] if size == 'smoke' else VARIANTS
  return [{**v, 'train.batch_size': b, 'optim.lr': lr, **seed} for v in variants
          for b in batches for lr in lrs for seed in sizes.seeds(size)]
