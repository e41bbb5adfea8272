"""Claim 14: does LayerNorm smooth the optimization landscape of a deep stack?

  python -m lnexp.run --config experiments/landscape.py[:quick|:full]

No norm, post-LN and pre-LN, ALBERT-shared depth 16 (depth 2 beside), at
the size of claims 1 and 4 (depth.py: d=64, 150 AdamW steps of 8 x 64
tokens, warm-up 25% = 38 steps, the warm-up depth.py's tuning preferred at
depth 16) with the fair start of claims v4 (untied output layer initialised
at zero: every variant starts at ln V), on `topics`; peak LR 1e-3 and 3e-3
(in depth.py's tuning, with v3's init on synthetic data, every variant
trained at both with this warm-up at depth 16), 5 seeds.
Every 10 steps and at step 1, before the update, Santurkar et al. 2018's
probe along the gradient of the step's training loss
(`diagnostics.smoothness_every`, lnexp.measure.smoothness). Early training
by design: a 16-layer stack learns little in 150 steps, and the learned
size costs 8x a run per depth-16 point.

Metric: effective beta-smoothness (Santurkar et al. 2018, "How does batch
normalization help optimization?", sec. 3.1, fig. 4c): the largest change of
the gradient per unit distance moved along it, max_k ||g(theta - eta_k g) -
g|| / ||eta_k g||, probed at steps that move each parameter by 0.5, 1, 2 and
4 x the peak LR (RMS: the size of an Adam step; their fixed SGD etas would
probe different distances in variants whose gradient norms differ); per
run, the median over the probes after warm-up (steps >= 40). Beside it,
their "variation in loss" along the same steps (the loss range).

--- rule claim-14-v4 ---
Verdict rule, fixed before running (claims v4). Claim 14 ("LayerNorm smooths
the optimization landscape ... especially beneficial in models that stack
many layers"): per run, the effective beta-smoothness of Santurkar et al.
2018 (the largest gradient change per unit distance along the gradient,
probed every 10 steps at per-parameter RMS steps of 0.5, 1, 2 and 4 x the
peak LR), median over the probes at steps >= 40 (after warm-up); trained runs
only (a collapsed or diverged run is missing, which makes its comparison
inconclusive). At depth 16, at each LR (1e-3, 3e-3) and for each of post-LN
and pre-LN, the paired difference over 5 seeds d = log beta(no norm) - log
beta(LayerNorm) (positive: LayerNorm smoother), 95% paired t-interval,
minimum effect delta = log 1.5 (chosen, not calibrated: no earlier run
measured beta's per-run noise; the interval carries it). The four
comparisons are one family: a supported or contradicted one whose
Holm-adjusted p is >= 0.05 becomes inconclusive. Verdict: their common
outcome, else mixed; named "early training" if post-LN at depth 16 at the
better of its two LRs (seed mean) closes less than 75% of the gap between
the previous-token loss and the Bayes floor. Exploratory, no verdict rests
on them: the same differences at depth 2, the depth interaction, d at
depth 16 minus d at depth 2 per seed ("especially ... many layers"), and the
loss range along the gradient.
--- end rule ---
"""
import math
import os

import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Change, Claim, Quote

ORDER = 15
VERSION = 4
RUNTIME = ('60 points (30 at depth 16), probes included: about 10 process-minutes beside '
           'another suite process on a 2-core CPU, over two sessions (2026-12-07).')
SMOOTHS = Quote('LayerNorm smooths the optimization landscape by keeping gradients more '
                'consistent, which is especially beneficial in models that stack many layers, '
                'such as transformers.', '14',
                'Santurkar et al. 2018 showed smoothing for BatchNorm; for LayerNorm in '
                'transformers it is asserted, not cited')
QUOTES = (SMOOTHS,)
CLAIMS = {'14': Claim('Landscape smoothness (Santurkar et al. 2018)', SMOOTHS.text)}
CHANGES = (
    Change('claim 14 (new)', 'not tested: the smoothness probe existed, no experiment used '
           'it', 'effective beta-smoothness along training, depth 16, 5 seeds, Holm',
           'issue 34: test what the instruments already measure'),)

NAMES = ('none', 'layernorm-post', 'layernorm-pre')
LRS = (1e-3, 3e-3)
DELTA = math.log(1.5)
AFTER_WARMUP = 40  # the first probe step after the 38 warm-up steps


def depths(size):
  return {'smoke': (2,)}.get(size, (2, 16))


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = sizes.claims_config(size, steps=150)
  c.model.tie_embeddings, c.model.unembed_init = False, 0.0  # the fair start of v4
  c.model.scan_unroll = 2  # deep shared stacks compile faster (depth.py)
  c.data.source = 'topics'
  if size != 'smoke':
    c.train.batch_size = 8
    c.train.eval_every, c.train.eval_batches = c.train.steps, 64  # one eval, 32k tokens
  c.optim.warmup_steps = max(round(0.25 * c.train.steps), 1)
  c.diagnostics.smoothness_every = max(c.train.steps // 15, 1)
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  names = NAMES[1:2] if size == 'smoke' else NAMES
  lrs = LRS[1:] if size in ('smoke', 'quick') else LRS
  return [{**sizes.LEARNED_VARIANTS[n], 'model.num_layers': depth, 'optim.lr': lr, **seed}
          for depth in depths(size) for n in names for lr in lrs
          for seed in sizes.seeds(size, headline=True)]


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claim 14: effective beta-smoothness, no norm against LayerNorm, at depth 16."""
  from lnexp.claims import evidence as ev  # the report's extra: running needs none of it
  from lnexp.claims import regime
  df = ev.load(workdir, point_ids)
  metrics = ev.metrics_of(workdir, df)
  for key in ('beta', 'loss_range'):
    df[key] = [after_warmup(metrics[p], f'smoothness/{key}') for p in df['point_id']]
    df[key] = ev.trained_only(df, key)
  rows = [[str(depth), f'{lr:g}', variant, ev.counts(g['label']), ev.median(g['beta']),
           ev.median(g['loss_range']), ev.stat(g['loss_or_ln_v'])]
          for (depth, lr, variant), g in df.groupby(['model.num_layers', 'optim.lr',
                                                     'variant'], sort=True)]

  def at(depth, lr, variant, key='beta'):
    g = df[(df['model.num_layers'] == depth) & np.isclose(df['optim.lr'], lr)
           & (df['variant'] == variant)]
    return ev.by_seed(g, key)
  comps, beside = [], []
  for depth in sorted(df['model.num_layers'].unique(), reverse=True):
    for lr in sorted(df['optim.lr'].unique()):
      for ln in ev.LN:
        c = ev.compare(f'depth {depth}, LR {lr:g}: log beta(none) - log beta({ln})',
                       at(depth, lr, 'none'), at(depth, lr, ln), DELTA, log=True,
                       label=f'{ln} at LR {lr:g}', primary=depth == 16)
        (comps if depth == 16 else beside).append(c)
        if depth == 16 and 2 in set(df['model.num_layers']):
          beside.append(ev.compare(f'LR {lr:g}, {ln}: d(depth 16) - d(depth 2)',
                                   log_ratio(at(16, lr, 'none'), at(16, lr, ln)),
                                   log_ratio(at(2, lr, 'none'), at(2, lr, ln)), DELTA,
                                   primary=False))
  comps = ev.family(comps + beside)
  primary = [c for c in comps if c.primary]
  post = df[(df['model.num_layers'] == df['model.num_layers'].max())
            & (df['variant'] == 'layernorm-post')]
  closed = regime.closed_at_best(ev.best_lr(post).per_seed) if len(post) else None
  early, scale = regime.scale_note(
      'small scale: claims 1 and 4\'s size (d=64, ALBERT-shared depth 16: ~59k parameters; '
      '150 steps of 8 x 64 tokens: ~77k tokens per run) with the v4 fair start; larger models '
      'may behave differently',
      [closed])
  return [ev.Finding(
      '14', ev.combine([c.outcome for c in primary]) + early,
      'depth 16, d = log beta(none) - log beta(LayerNorm): ' + '; '.join(
          f'{c.label} {ev.fmt_interval(c.interval, log=True)} {c.outcome}' for c in primary),
      [ev.table('Per depth, LR and variant: runs trained/collapsed/diverged; effective '
                'beta-smoothness (Santurkar et al. 2018) and the loss range along the '
                'gradient, each the median over the probes after warm-up, then median '
                '(IQR) over seeds (trained runs); final eval loss.',
                ['depth', 'LR', 'variant', 'trained/collapsed/diverged', 'beta',
                 'loss range', 'final eval loss'], rows),
       ev.comparisons_table('The rule\'s comparisons (depth 16; d > 0: LayerNorm smoother) '
                            'and, exploratory, depth 2 and the depth interaction.', comps)],
      figure(df, metrics, os.path.join(figdir, 'beta_over_training.png')), [scale])]


def log_ratio(x: dict, y: dict) -> dict:
  """log x - log y per seed; None where either is missing or not positive."""
  ok = lambda v: v is not None and math.isfinite(v) and v > 0  # noqa: E731
  return {s: math.log(x[s]) - math.log(y[s]) if ok(x.get(s)) and ok(y.get(s)) else None
          for s in set(x) | set(y)}


def after_warmup(m, key: str) -> float:
  """Median of a logged scalar over its steps >= AFTER_WARMUP (NaN if none)."""
  if key not in m:
    return math.nan
  logged = m[(m['step'] >= AFTER_WARMUP) & m[key].notna()][key].astype(float)
  return float(np.median(logged)) if len(logged) else math.nan


def figure(df, metrics: dict, path: str) -> list[str]:
  """Effective beta over training at the deepest depth, one panel per LR."""
  from lnexp.claims import plots
  depth = df['model.num_layers'].max()
  lrs = sorted(df['optim.lr'].unique())
  fig, axes = plots.figure(len(lrs), width=5.0 * len(lrs))
  style = plots.styles(df)
  for ax, lr in zip(axes, lrs):
    d = df[(df['model.num_layers'] == depth) & np.isclose(df['optim.lr'], lr)]
    for variant, g in d.groupby('variant', sort=False):
      for i, pid in enumerate(g.sort_values('seed')['point_id']):
        m = metrics[pid]
        if 'smoothness/beta' not in m:
          continue
        s = m[m['smoothness/beta'].notna()]
        ax.plot(s['step'], s['smoothness/beta'].astype(float),
                color=style[variant]['color'], alpha=1.0 if i == plots.FIRST else 0.35,
                label=variant if i == plots.FIRST else None)
    ax.axvline(AFTER_WARMUP, color='grey', linestyle=':', linewidth=1)
    ax.set_yscale('log')
    ax.set_xlabel('step')
    ax.set_ylabel('effective beta-smoothness')
    ax.set_title(f'depth {depth}, LR {lr:g}', fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
  return plots.save(fig, path)
