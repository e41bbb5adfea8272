"""Claims 1 and 4: gradient flow and error accumulation across shared depth.

  python -m lnexp.run --config experiments/depth.py[:quick|:full]     # tune stage
  python -m lnexp.run --config experiments/depth.py:core@experiments/results/depth_tune

Confirm stage, after its tune stage (whose workdir follows the @): each
headline variant (lnexp.claims.sizes.LEARNED_VARIANTS) at ALBERT-shared depth
2 and 16 with the LR and warm-up that won its tuning at that depth, 5 seeds,
300 steps of batch 16 x 64 on `topics`, d=64 (v3's small size, twice as
long: the learned size at depth 16 would cost 8x a learned-size run, so
these verdicts say "early training"), lnexp's default fair start (GPT-2
branch init, untied output layer with init gain 0.1: every variant within
0.02 nats of ln V, and step 1's gradients reach every block, which the
gradient spread at initialization needs), 64 eval batches (65,536 tokens);
diagnostics at step 1 (initialization) and every 10 steps; the trained
model's response to a perturbation (lnexp.measure.perturbation) in each
result row. The perturbation at initialization over depth 2, 4, 8, 16, 32
(forward passes only) is computed by the report from the same configs and
seeds.

Metrics:
- gradient spread: max over depth / min over depth of the backprop gradient
  norm after each block (`depth/grad_flow`), at step 1 and at the last
  diagnostic step;
- error amplification (lnexp.measure.perturbation): relative noise eps = 1e-3 added to
  the residual stream after block 1; its relative size after the last block
  divided by eps; and the KL divergence of the output distribution;
- converged: eval loss fell by < 0.01 nats over the last 20% of steps.

Tune stage (no @, results/depth_tune): the five headline variants at depth 2
and 16, seed 0, peak LR 1e-3, 3e-3, 1e-2 x warm-up 5% and 25% of 300 steps.
The confirm stage runs each variant and depth at its best setting (lowest
final eval loss, a diverged run at ln V) over all seeds. No verdict on the
tune stage: the rule judges the confirm stage.

--- rule claims-1-4-v4 ---
Verdict rules, fixed before running (claims v4). Each compares no norm with
post-LN, the article's model, over 5 seeds by a 95% paired t-interval on log
scale, Holm over each claim's two comparisons; the other variants are
reported beside without a verdict.
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
Both verdicts are named "early training" if post-LN at depth 16 closes less
than 75% of the gap between the previous-token loss and the Bayes floor of
`topics` (seed mean).
--- end rule ---
"""
import json
import math
import os

import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Change, Claim, Quote
from lnexp.errors import ConfigError

ORDER = 2
VERSION = 4
STAGES = ('depth_tune', 'depth')  # tune, then confirm: their workdirs' names
RUNTIME = ('60 tuning and 50 confirming points of 300 steps: about 25 and 18 minutes '
           'beside another suite process on a 2-core CPU (2026-12-07).')
BY_CONSTRUCTION = ('tested by perturbation (does an error injected after block 1 grow '
                   'or shrink?): the old measure, residual scale, is ~1 by construction '
                   'in post-LN')
GRADIENTS = Quote('By standardizing activations within each layer, layer normalization '
                  'helps maintain the gradients within a reasonable range during '
                  'backpropagation.', '1')
ERRORS = Quote('As information flows through the layers of a deep network, small errors can '
               'compound, leading to significant deviations in the model’s output. This '
               'problem, particularly acute in architectures with many layers, is alleviated '
               'by layer normalization.', '4', BY_CONSTRUCTION)
QUOTES = (
    Quote('Layer normalization (LayerNorm) is a technique that addresses these issues by '
          'standardizing activations within each layer, allowing for smoother gradient flow '
          'and improving overall training stability.', '1'),
    GRADIENTS,
    Quote('Without normalization, deeper layers might produce highly varied outputs, '
          'leading to unstable gradients that oscillate or diminish across layers.', '1'),
    ERRORS,
    Quote('Layer normalization’s ability to maintain consistent activation scales directly '
          'impacts how information flows between layers.', '4', BY_CONSTRUCTION),
    Quote('In AlbertAGPT, the consistency provided by layer normalization across different '
          'layers ensures that the model can accurately propagate learned features from one '
          'layer to the next without distortion.', '4', BY_CONSTRUCTION),
    Quote('stabilizes training in deep neural networks by managing gradient flow', '1'),
    Quote('preventing error accumulation across layers', '4', BY_CONSTRUCTION))
CLAIMS = {'1': Claim('Gradient flow', GRADIENTS.text),
          '4': Claim('Error accumulation across depth', ERRORS.text)}

CHANGES = (
    Change('claims 1, 4: data and length', 'synthetic data, 150 steps of batch 8 (0 of 50 '
           'runs converged)', 'topics, 300 steps of batch 16, 64 eval batches; named early '
           'training by the topics gap', 'exact floors say how far the models got; the '
           'learned size at depth 16 costs 8x a learned-size run'),
    Change('claims 1, 4: initialisation', 'tied unit embeddings (norm variants started up '
           'to 0.8 nats above ln V); no norm with the embedding x 0.1', "lnexp's default "
           'fair start (untied output layer, gain 0.1), the same for every variant',
           'a fair start; a non-zero output layer so that step-1 gradients reach every '
           'block'),
    Change('claims 1, 4: multiplicity', 'none', 'Holm over each claim\'s two comparisons',
           'a family-wise treatment'),
)
LRS = (1e-3, 3e-3, 1e-2)
WARMUP = (0.05, 0.25)  # fractions of the run


def depths(size):
  return {'smoke': (2,), 'quick': (2, 8)}.get(size, (2, 16))


def names(size):
  return {'smoke': ('layernorm-post',), 'quick': sizes.HEADLINE[:3]}.get(size, sizes.HEADLINE)


def get_config(arg=''):
  """Both stages' config; the confirm stage (SIZE@TUNE_WORKDIR) also measures the
  trained model's response to a perturbation."""
  size, _, tune_workdir = arg.partition('@')
  size = sizes.size_of(size)
  c = sizes.claims_config(size, steps=300)
  c.model.tie_embeddings, c.model.unembed_init = False, 0.1  # lnexp's default fair start
  c.model.scan_unroll = 2  # deep shared stacks compile ~1.4x faster than with 4
  c.data.source = 'topics'
  c.train.eval_every = max(c.train.steps // 5, 1)  # the last 20%: two evaluations
  if size not in ('smoke', 'quick'):
    c.train.eval_batches = 64
  if tune_workdir:
    c.diagnostics.perturbation = True
  return c


def settings(size):
  """The tune stage's grid: LR x warm-up steps."""
  steps = get_config(size).train.steps
  lrs = {'smoke': LRS[1:2], 'quick': LRS[1:]}.get(size, LRS)
  return [{'optim.lr': lr, 'optim.warmup_steps': max(round(w * steps), 1)}
          for lr in lrs for w in WARMUP]


def tuned(tune_workdir: str, size: str) -> dict:
  """{(variant overrides as sorted tuple, depth): best setting} over the tuning
  grid of `size`: the lowest final eval loss, a diverged run (or a non-finite
  loss) counting at ln V; rows of other points are ignored."""
  path = os.path.join(tune_workdir, 'results.jsonl')
  if not os.path.isfile(path):
    raise ConfigError(f'experiments/depth.py:SIZE@{tune_workdir} needs the tuning results '
                      f'{path}: run experiments/depth.py:SIZE into that workdir first')
  grid = [tuple(sorted(s.items())) for s in settings(size)]
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
  """The tune stage's grid (one seed), or with @TUNE_WORKDIR each variant and
  depth at its tuned setting over every seed."""
  size, _, tune_workdir = arg.partition('@')
  size = sizes.size_of(size)
  if not tune_workdir:
    return [{**sizes.LEARNED_VARIANTS[n], 'model.num_layers': d, **s, **sizes.seeds(size)[0]}
            for n in names(size) for d in depths(size) for s in settings(size)]
  best = tuned(tune_workdir, size)
  points = []
  for n in names(size):
    variant = sizes.LEARNED_VARIANTS[n]
    for d in depths(size):
      key = (tuple(sorted(variant.items())), d)
      if key not in best:
        raise ConfigError(f'{tune_workdir} has no finished tuning run of {n} at depth {d}')
      points += [{**variant, 'model.num_layers': d, **best[key], **seed}
                 for seed in sizes.seeds(size, headline=True)]
  return points


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claims 1 (gradient spread over depth) and 4 (error amplification)."""
  from lnexp.analysis import results  # the report's extra: running needs none of it
  from lnexp.claims import evidence as ev
  from lnexp.claims import regime
  df = ev.load(workdir, point_ids)
  metrics = ev.metrics_of(workdir, df)
  ms = [metrics[p] for p in df['point_id']]
  df['spread_init'] = [spread(results.depth_value(m, 'depth/grad_flow', 'first')) for m in ms]
  df['spread_end'] = [spread(results.depth_value(m, 'depth/grad_flow')) for m in ms]
  df['growth'] = [ev.growth(results.depth_value(m, 'depth/residual_rms')) for m in ms]
  steps = results.load_config(workdir)['base']['train.steps']
  df['converged'] = [converged(m, steps) for m in ms]
  depths = sorted(df['model.num_layers'].unique())
  deepest = depths[-1]
  rows = []
  order = {v: i for i, v in enumerate(dict.fromkeys(df['variant']))}
  for (_, d, variant), g in df.assign(order=df['variant'].map(order)).groupby(
      ['order', 'model.num_layers', 'variant']):
    rows.append([variant, str(d), f"{g['optim.lr'].iloc[0]:g} / "
                 f"{g['optim.warmup_steps'].iloc[0]:g}", ev.counts(g['label']),
                 f"{int(g['converged'].sum())}/{len(g)}", ev.stat(g['final_eval_loss']),
                 ev.median(g['spread_init']), ev.median(ev.trained_only(g, 'spread_end')),
                 ev.median(ev.trained_only(g, 'perturb_amplification')),
                 ev.median(ev.trained_only(g, 'perturb_kl')), ev.median(g['growth'])])
  tables = [ev.table(
      'Per variant and depth, over seeds, at the tuned LR / warm-up steps '
      '(the tune stage of experiments/depth.py): runs trained/collapsed/diverged; '
      'converged (eval loss fell < 0.01 nats over the last 20% of steps); final eval '
      'loss (mean ± sd); '
      'gradient spread, max / min over depth of the gradient norm after each block, at '
      'step 1 and at the end; error amplification and KL of the trained model '
      '(lnexp.measure.perturbation, eps = 1e-3 after block 1); residual growth (last / first '
      'block RMS, the old claim-4 metric, ~1 by construction in post-LN). Medians '
      '(IQR); end-of-training diagnostics over trained runs only.',
      ['variant', 'depth', 'LR / warm-up', 'trained/collapsed/diverged', 'converged',
       'final eval loss', 'spread at init', 'spread at end', 'amplification (trained)',
       'KL (trained)', 'residual growth'], rows)]
  init = perturbation_at_init(workdir, df)
  init['seed'] = init['seed'].astype(str)
  init_rows = [[v] + [ev.median(g[g['depth'] == L]['amplification'])
                      for L in sorted(init['depth'].unique())]
               for v, g in init.groupby('variant', sort=False)]
  tables.append(ev.table(
      'Error amplification at initialization (relative deviation after the last block / '
      'eps, eps = 1e-3 injected after block 1; > 1: the error grows), median (IQR) over '
      'seeds, per depth (forward passes only; cached in perturbation_init.csv).',
      ['variant'] + [f'depth {L}' for L in sorted(init['depth'].unique())], init_rows))

  deep = df[df['model.num_layers'] == deepest]

  def at(variant, column, trained=False):
    g = deep[deep['variant'] == variant]
    values = ev.trained_only(g, column) if trained else g[column]
    return dict(zip(g['train.seed'].astype(str), values))
  c1 = ev.family([
      ev.compare(f'depth {deepest}, init: log spread(none) - log spread(post-LN)',
                 at('none', 'spread_init'), at('layernorm-post', 'spread_init'),
                 math.log(1.5), log=True),
      ev.compare(f'depth {deepest}, end: log spread(none) - log spread(post-LN)',
                 at('none', 'spread_end', True), at('layernorm-post', 'spread_end', True),
                 math.log(1.5), log=True)])
  top = int(init['depth'].max())
  amp0 = lambda v: {s: a for s, a in zip(  # noqa: E731
      init[(init['variant'] == v) & (init['depth'] == top)]['seed'],
      init[(init['variant'] == v) & (init['depth'] == top)]['amplification'])}
  c4 = ev.family([
      ev.compare(f'depth {top}, init: log amp(none) - log amp(post-LN)', amp0('none'),
                 amp0('layernorm-post'), math.log(1.25), log=True),
      ev.compare(f'depth {deepest}, trained: log amp(none) - log amp(post-LN)',
                 at('none', 'perturb_amplification', True),
                 at('layernorm-post', 'perturb_amplification', True), math.log(1.25),
                 log=True)])
  beside = [ev.compare(f'depth {top}, init: log amp(none) - log amp({v})', amp0('none'),
                       amp0(v), math.log(1.25), log=True, primary=False)
            for v in init['variant'].unique() if v not in ('none', 'layernorm-post')]
  not_converged = df[~df['converged'] & df['label'].eq(ev.TRAINED)]
  post_rows = deep[deep['variant'] == 'layernorm-post']
  closed = regime.closed_at_best(dict(zip(post_rows['train.seed'],
                                          post_rows.to_dict('records'))))
  early, scale = regime.scale_note(ev.SMALL_SCALE, [closed])
  notes = [scale]
  if len(not_converged):
    notes.append('not converged by the convergence rule (still falling >= 0.01 nats over '
                 'the last 20% of steps): ' + ', '.join(
                     f'{v} depth {d} ({len(g)})' for (v, d), g in
                     not_converged.groupby(['variant', 'model.num_layers'])))
  for variant, g in deep.groupby('variant', sort=False):
    failed = g[~g['label'].eq(ev.TRAINED)]
    if len(failed):
      notes.append(f'{variant} at depth {deepest} did not train in {len(failed)}/{len(g)} '
                   f'seeds at its tuned LR and warm-up ({ev.counts(g["label"])} '
                   'trained/collapsed/diverged)')
  figures = figure(deep, metrics, os.path.join(figdir, 'depth_profiles.png'))
  post = deep[deep['variant'] == 'layernorm-post']
  amp_top = lambda v: ev.median(  # noqa: E731
      init[(init['variant'] == v) & (init['depth'] == top)]['amplification'])
  return [
      ev.Finding('1', ev.combine([c.outcome for c in c1]) + early,
                 f'depth {deepest}: gradient spread (max/min over blocks, median) post-LN '
                 f"{ev.median(post['spread_init'])} at init, none "
                 f"{ev.median(deep[deep['variant'] == 'none']['spread_init'])}; outcomes "
                 + ', '.join(c.outcome for c in c1),
                 tables[:1] + [ev.comparisons_table(
                     'The rule\'s comparisons (d > 0: post-LN\'s gradients more even over '
                     'depth).', c1)],
                 figures, notes),
      ev.Finding('4', ev.combine([c.outcome for c in c4]) + early,
                 f'error amplification at depth {top} at init (median), none '
                 f"{amp_top('none')} vs post-LN {amp_top('layernorm-post')}; outcomes "
                 + ', '.join(c.outcome for c in c4),
                 tables + [ev.comparisons_table(
                     'The rule\'s comparisons (d > 0: post-LN damps the error more), and '
                     'the other variants at init beside (no verdict).', c4 + beside)],
                 figures, notes),
  ]


def spread(values) -> float:
  """max / min over depth (NaN unless every value is finite and positive)."""
  if values is None or not np.all(np.isfinite(values)) or values.min() <= 0:
    return math.nan
  return float(values.max() / values.min())


def converged(m, steps: int) -> bool:
  """Eval loss fell by < 0.01 nats over the last 20% of steps."""
  evals = m[m['eval_loss'].notna()] if 'eval_loss' in m else m.iloc[:0]
  window = evals[evals['step'] >= 0.8 * steps]
  if len(window) < 2:
    return False
  return bool(window['eval_loss'].iloc[0] - window['eval_loss'].iloc[-1] < 0.01)


def init_depths(run_depths) -> list[int]:
  """Powers of two from the shallowest run depth to twice the deepest."""
  lo, hi = min(run_depths), 2 * max(run_depths)
  return [2 ** k for k in range(int(math.log2(lo)), int(math.log2(hi)) + 1)]


def perturbation_at_init(workdir: str, df):
  """lnexp.measure.perturbation at init for every variant and seed of `df` over
  `init_depths`; cached in WORKDIR/perturbation_init.csv (forward passes only)."""
  import pandas as pd

  from lnexp import config as config_lib
  from lnexp.analysis import results
  from lnexp.measure import perturbation
  path = os.path.join(workdir, 'perturbation_init.csv')
  depths = init_depths(df['model.num_layers'].unique())
  seeds = sorted({int(s) for s in df['train.seed']})
  wanted = {(v, d, s) for v in df['variant'].unique() for d in depths for s in seeds}
  if os.path.isfile(path):
    cached = pd.read_csv(path)
    if set(zip(cached['variant'], cached['depth'], cached['seed'])) == wanted:
      return cached
  config = results.load_config(workdir)
  flat = {k: v for k, v in config['base'].items() if k != 'model.vocab_size'}
  base = config_lib.apply_overrides(config_lib.base_config(), flat)
  keys = [k for k in results.swept_keys(config) if k.startswith('model.')
          and k != 'model.num_layers']
  variants = {}
  for variant, g in df.groupby('variant', sort=False):
    row = g.iloc[0]
    variants[variant] = {k: row[k].item() if isinstance(row[k], np.generic) else row[k]
                         for k in keys if k in row and not pd.isna(row[k])}
  out = perturbation.at_init(variants, depths, seeds, base=base)
  out.to_csv(path + '.tmp', index=False)
  os.replace(path + '.tmp', path)
  return out


def figure(df, metrics: dict, path: str) -> list[str]:
  """Per-block gradient norm (init, end) and residual RMS (end) vs block index."""
  from lnexp.analysis import results
  from lnexp.claims import plots
  fig, axes = plots.figure(3, 4.5)
  style = plots.styles(df)
  for variant, d in df.groupby('variant', sort=False):
    m = metrics[d.sort_values('seed')['point_id'].iloc[0]]
    for ax, (key, when) in zip(axes, (('depth/grad_flow', 'first'),
                                      ('depth/grad_flow', 'last'),
                                      ('depth/residual_rms', 'last'))):
      values = results.depth_value(m, key, when)
      if values is not None:
        ax.plot(np.arange(1, len(values) + 1), values, color=style[variant]['color'],
                marker=style[variant]['marker'], markersize=3, label=variant)
  for ax, title in zip(axes, ('gradient norm after each block, step 1',
                              'gradient norm after each block, end',
                              'residual-stream RMS after each block, end')):
    ax.set_yscale('log')
    ax.set_xlabel('block (shared weights)')
    ax.set_title(title + f' (depth {int(df["model.num_layers"].iloc[0])}, seed 0)',
                 fontsize=9)
    ax.grid(True, alpha=0.3)
  axes[0].legend(fontsize=7)
  return plots.save(fig, path)
