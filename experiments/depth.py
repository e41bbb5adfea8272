"""Claims 1 and 4: gradient flow and error accumulation across shared depth.

  python -m lnexp.run --config experiments/depth.py:core@experiments/results/depth_tune

Second stage of experiments/depth_tune.py (whose workdir follows the @): each
headline variant (lnexp.claims.sizes) at ALBERT-shared depth 2 and 16 with the
LR and warm-up that won its tuning at that depth, 5 seeds, 150 steps of batch
8; diagnostics at step 1 (initialization) and every 10 steps; the trained
model's response to a perturbation (lnexp.measure.perturbation) in each result row.
The perturbation at initialization over depth 2, 4, 8, 16, 32 (forward passes
only) is computed by the report from the same configs and seeds. 50 points,
6.3 process-minutes on a 2-core CPU (2026-12-05; about half that with --jobs 2).

Metrics:
- gradient spread: max over depth / min over depth of the backprop gradient
  norm after each block (`depth/grad_flow`), at step 1 and at the last
  diagnostic step;
- error amplification (lnexp.measure.perturbation): relative noise eps = 1e-3 added to
  the residual stream after block 1; its relative size after the last block
  divided by eps; and the KL divergence of the output distribution;
- converged: eval loss fell by < 0.01 nats over the last 20% of steps.

--- rule claims-1-4 ---
Verdict rules, fixed before running. Each compares no norm (fair init) with
post-LN, the article's model, over 5 seeds by a 95% paired t-interval on log
scale; the other variants are reported beside without a verdict.
- Claim 1 ("helps maintain the gradients within a reasonable range during
  backpropagation"): d = log spread(no norm) - log spread(post-LN) at depth 16
  (positive: post-LN's gradients are more even over depth), delta = log 1.5,
  at initialization and at the end of training (trained runs only: a
  diverged or collapsed run is missing, making the comparison inconclusive).
  Verdict: the common outcome of the two if they agree, else mixed.
- Claim 4 ("preventing error accumulation across layers"): d = log
  amplification(no norm) - log amplification(post-LN) (positive: post-LN
  damps the error more), delta = log 1.25, at initialization at depth 32 and
  after training at depth 16 (trained runs only). Verdict: the common outcome
  of the two if they agree, else mixed.
--- end rule ---
"""
import importlib.util
import json
import math
import os

from lnexp.claims import sizes
from lnexp.errors import ConfigError

_spec = importlib.util.spec_from_file_location(  # the first stage, beside this file
    'depth_tune', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'depth_tune.py'))
depth_tune = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(depth_tune)

INIT_DEPTHS = (2, 4, 8, 16, 32)


def get_config(arg=''):
  c = depth_tune.get_config(sizes.size_of(arg))
  c.diagnostics.perturbation = True
  return c


def tuned(tune_workdir: str, size: str) -> dict:
  """{(variant overrides as sorted tuple, depth): best setting} over the tuning
  grid of `size` (depth_tune.py): the lowest final eval loss, a diverged run
  (or a non-finite loss) counting at ln V; rows of other points are ignored."""
  path = os.path.join(tune_workdir, 'results.jsonl')
  if not os.path.isfile(path):
    raise ConfigError(f'experiments/depth.py needs the tuning results {path}: run '
                      'experiments/depth_tune.py into that workdir first')
  grid = [tuple(sorted(s.items())) for s in depth_tune.settings(size)]
  best = {}
  for line in open(path):
    try:
      row = json.loads(line)
    except json.JSONDecodeError:  # a line cut short by a kill: that point reruns
      continue
    setting = {k: row.get(k) for k in ('optim.lr', 'optim.warmup_steps')}
    if tuple(sorted(setting.items())) not in grid:
      continue
    loss = row['final_eval_loss'] if row['status'] == 'ok' else None
    loss = loss if loss is not None and math.isfinite(loss) else math.log(row['vocab_size'])
    key = (tuple(sorted((k, v) for k, v in row.items() if k.startswith('model.')
                        and k != 'model.num_layers')), row['model.num_layers'])
    if key not in best or loss < best[key][0]:
      best[key] = (loss, setting)
  return {k: v[1] for k, v in best.items()}


def get_sweep(arg=''):
  size, _, tune_workdir = arg.partition('@')
  size = sizes.size_of(size)
  if not tune_workdir:
    raise ConfigError('experiments/depth.py needs its tuning workdir: '
                      '--config experiments/depth.py:SIZE@WORKDIR_OF_DEPTH_TUNE')
  best = tuned(tune_workdir, size)
  points = []
  for n in depth_tune.names(size):
    variant = sizes.VARIANTS[n]
    for d in depth_tune.depths(size):
      key = (tuple(sorted(variant.items())), d)
      if key not in best:
        raise ConfigError(f'{tune_workdir} has no finished tuning run of {n} at depth {d}')
      points += [{**variant, 'model.num_layers': d, **best[key], **seed}
                 for seed in sizes.seeds(size, headline=True)]
  return points
