"""The normalization benchmark: every method of the literature on one harness.

  python -m lnexp.claims --suite normbench [--jobs 2]   # both stages, then NORMBENCH.md
  python -m lnexp.run --config experiments/normbench.py[:quick|:smoke]            # sweep stage
  python -m lnexp.run --config experiments/normbench.py:core@experiments/results/normbench_sweep

Every method (METHODS: a norm, a placement or a norm-free scheme, each one
registry entry with its paper in lnexp.models) at the learned size of claims
v4 (lnexp.claims.sizes.learned_config: d=128, 2 ALBERT-shared layers, 2,000
steps of 16 x 64 tokens, the untied output layer initialised at zero, so
every method starts at ln V; docs/claims-v4-pilots.md), on `topics` (exact
Bayes floor) and `python_docs` (CPython's documentation, bytes).

Sweep stage (results/normbench_sweep): every method x peak LR 1e-3, 3e-3,
1e-2, 3e-2 (a best LR at an edge grows the grid by one grid step, x3, on
that side, twice at most) x 2 seeds on both datasets; on topics, the width
methods (WIDTH_METHODS) also at d=64 and d=192 (head size 32 kept) x the
same LRs, 1 seed.
Confirm stage (results/normbench, after the sweep stage): each method at its
best LR of the sweep (seed mean, a diverged run at ln V), per dataset, with 3
fresh seeds, making 5 at that LR with the sweep's 2; on topics, the same at
4x the depth (8 shared layers; the base's LR and 100 warm-up steps) for
500 steps (a quarter of the base's: whether it trains shows by then; early
training), 2 seeds, and its own tuning there: the LRs a half decade on
either side of the base's, 1 seed (the first depth seed); and the widths for
the three best methods on topics that are not width methods already.
Checkpoints every 1,000 steps. The planner estimates the core at 9.8
process-hours (4.9 hours with --jobs 2), before grid extensions; the depth
runs at 1,000 steps with their own tuning would have made it 10.9, and x2
width (d=256, 3.6x a base run), 5 fresh confirm seeds and 3 depth seeds of
2,000 steps without the tuning 14.5.

Sizes: smoke (2 methods, topics, the test suite's check), quick (4
methods at the claims quick size, planned at 10 minutes), core (the
benchmark); full is core.

Metrics, per method and dataset: the final eval loss (65,536 tokens) at the
best LR over 5 seeds; LR sensitivity under the three scorings of claims
v4 (lnexp.claims.scoring: failures at ln V, failures at the unigram entropy,
stable LRs within 0.1 nats of the best) and stable decades, from the sweep;
at 4x depth, runs trained / collapsed / diverged and the final loss at the
base's LR, and the best loss over the three LRs of its own tuning; the
width trend, the slope of LR sensitivity (failures at ln V) on log2 width;
cost, step time relative to LayerNorm-pre in one process (`python -m
lnexp.bench --sections norms --json experiments/results/normbench/bench.json`,
read by the board when present).

--- rule normbench ---
Leaderboard and paper checks, fixed before running. Comparisons are 95%
paired t-intervals over the 5 seeds at the best LR (2 from the sweep, 3
from the confirm stage) of a method's final eval loss minus that of the
reference, each at its own best LR, with minimum effect
delta = 0.03 nats (above the 0.02 nats seed sd of the best-LR loss at this
size, docs/claims-v4-pilots.md): better (interval below -delta), worse
(above +delta), tie (inside +-delta), inconclusive otherwise or when
either best LR sits at an edge of its grid after extension. The
leaderboard, per dataset, lists every method against LayerNorm-pre (the
modern default) by its mean loss over the 5 seeds, ties shown as ties,
beside its stable decades. No family-wise correction over the
leaderboard: it is descriptive. Each paper check (PAPER_CHECKS) names its
method, the paper's words, the comparisons it rests on and the outcome
that reproduces it, each check its own question. A loss check is
reproduced if every named comparison comes out as predicted on both
datasets ("not worse": better or tie), not reproduced if any is decided
otherwise (worse or tie where better was predicted, better or worse where
a tie was, worse where not worse was), else inconclusive. A depth check is
reproduced if the method trains (neither collapsed nor diverged) in every
seed at 4x depth while the named baseline fails in at least one, not
reproduced if the method fails in any seed, else inconclusive. A speed
check, per confirm seed and dataset: the first logged step at which the
method's train loss (mean of 5 consecutive logs) reaches the reference's
final train loss (mean of its last 5 logs), over the run's steps;
reproduced if the median over seeds and datasets is at most the stated
fraction, not reproduced if above it, inconclusive if a run failed.
--- end rule ---
"""
import json
import math
import os
from typing import NamedTuple

from lnexp.claims import sizes
from lnexp.errors import ConfigError

SUITE = 'normbench'
STAGES = ('normbench_sweep', 'normbench')  # sweep, then confirm: their workdirs' names
ORDER = 100
RUNTIME = ('sweep stage 328 points in 88 groups (8 from grid extension), 468 process-minutes; '
           'confirm stage 194 points in 142 groups, 189 process-minutes; 11 process-hours '
           'in all (planned 9.8), over two sessions with --jobs 2 on a 2-core CPU '
           '(2026-12-07 to 12-08; the groups\' wall times are in results.jsonl).')

LN, LN_PRE = 'layernorm', {'model.norm': 'layernorm', 'model.placement': 'pre'}
PLAIN = {'model.branch_init': 'plain'}  # a method that brings its own branch scaling
# name -> overrides of learned_config (GPT-2 residual-branch init unless PLAIN).
METHODS = {
    'layernorm-pre': LN_PRE,
    'layernorm-post': {'model.norm': LN, 'model.placement': 'post'},
    'layernorm-peri': {'model.norm': LN, 'model.placement': 'peri'},
    'rmsnorm-pre': {'model.norm': 'rmsnorm', 'model.placement': 'pre'},
    'scalenorm-pre': {'model.norm': 'scalenorm', 'model.placement': 'pre'},
    'powernorm-pre': {'model.norm': 'powernorm', 'model.placement': 'pre'},
    'dyt-pre': {'model.norm': 'dyt', 'model.placement': 'pre'},
    'derf-pre': {'model.norm': 'derf', 'model.placement': 'pre'},
    'layernorm_simple-pre': {'model.norm': 'layernorm_simple', 'model.placement': 'pre'},
    'layernorm-deepnorm': {'model.norm': LN, 'model.placement': 'deepnorm', **PLAIN},
    'layernorm-admin': {'model.norm': LN, 'model.placement': 'admin', **PLAIN},
    # At 2 layers the paper's fraction 0.25 leaves no post-LN layer (plain pre-LN):
    # one post-LN layer, then one pre-LN (at 4x depth: 4 and 4).
    'layernorm-mixln': {'model.norm': LN, 'model.placement': 'mixln',
                        'model.mixln_post_fraction': 0.5},
    'layernorm-lns': {'model.norm': LN, 'model.placement': 'lns'},
    'layernorm-hybridnorm': {'model.norm': LN, 'model.placement': 'hybridnorm'},
    'none': {'model.norm': 'none'},
    'rezero': {'model.norm': 'none', 'model.placement': 'rezero'},
    'ngpt': {'model.norm': 'none', 'model.placement': 'ngpt'},  # its own normalization
}
WIDTH_METHODS = ('layernorm-pre', 'layernorm-post', 'rmsnorm-pre', 'none', 'dyt-pre',
                 'derf-pre')
WIDTHS = (64, 192)  # the base is 128; x2 (256) would cost 3.6x a base run
DEPTH_FACTOR = 4
LRS = (1e-3, 3e-3, 1e-2, 3e-2)
DATA = ('topics', 'python_docs')
SWEEP_SEEDS, CONFIRM_SEEDS, DEPTH_SEEDS = (0, 1), (10, 11, 12), (10, 11)
LADDER = tuple(float(f'{m}e{k}') for k in range(-6, 1) for m in (1, 3))  # LRs, half decades


def beside(lr: float) -> tuple[float, float]:
  """The LRs half a decade below and above `lr`: its neighbours on LADDER (the
  grids' values), or lr / sqrt(10) and lr * sqrt(10) for an LR off it (a grid
  extension's)."""
  on = [i for i, x in enumerate(LADDER) if math.isclose(x, lr)]
  if on:
    return LADDER[on[0] - 1], LADDER[on[0] + 1]
  return tuple(float(f'{lr * 10 ** k:.3g}') for k in (-0.5, 0.5))


class Check(NamedTuple):
  """A paper's headline claim and the comparisons that decide it (the rule)."""
  method: str          # a METHODS name
  paper: str           # citation and its words, quoted
  against: tuple       # METHODS names it is compared with
  predicted: str = ''  # kind 'loss': 'better', 'tie' or 'not worse'
  kind: str = 'loss'   # 'loss' | 'depth' | 'speed'
  factor: float = 1.0  # kind 'speed': at most this fraction of the reference's steps


# Each paper's words as its abstract (or, for CogView, its authors' README) puts
# them; the prediction each is checked by, fixed with the rule above.
PAPER_CHECKS = (
    Check('layernorm-pre', 'Ba et al. 2016, "Layer Normalization": "layer normalization can '
          'substantially reduce the training time compared with previously published '
          'techniques" (checked: reaches no norm\'s final train loss in <= 0.7x its steps)',
          ('none',), kind='speed', factor=0.7),
    Check('rmsnorm-pre', 'Zhang & Sennrich 2019, "Root Mean Square Layer Normalization": '
          '"RMSNorm achieves comparable performance against LayerNorm" (the speed half: '
          'the cost column)', ('layernorm-pre',), 'tie'),
    Check('scalenorm-pre', 'Nguyen & Salazar 2019, "Transformers without Tears": "ScaleNorm '
          'for faster training and better performance"', ('layernorm-pre',), 'better'),
    Check('powernorm-pre', 'Shen et al. 2020, "PowerNorm": "PN outperforms LN by 0.4/0.6 BLEU '
          'on IWSLT14/WMT14 and 5.6/3.0 PPL on PTB/WikiText-103"', ('layernorm-pre',),
          'better'),
    Check('dyt-pre', 'Zhu et al. 2025, "Transformers without Normalization": "Transformers '
          'without normalization can match or exceed the performance of their normalized '
          'counterparts"', ('layernorm-pre',), 'not worse'),
    Check('derf-pre', 'Chen et al. 2025, "Stronger Normalization-Free Transformers": "Derf '
          'outperforms LayerNorm, RMSNorm, and DyT"',
          ('layernorm-pre', 'rmsnorm-pre', 'dyt-pre'), 'better'),
    Check('layernorm_simple-pre', 'Xu et al. 2019, "Understanding and Improving Layer '
          'Normalization": "a simple version of LayerNorm (LayerNorm-simple) without the bias '
          'and gain outperforms LayerNorm"', ('layernorm-pre',), 'better'),
    Check('layernorm-peri', 'Kim et al. 2025, "Peri-LN": "Peri-LN consistently achieves more '
          'balanced variance growth, steadier gradient flow, and convergence stability" '
          '(checked: trains at 4x depth where post-LN fails; also Ding et al. 2021\'s '
          'Sandwich-LN, the same model: "can also help you train large and deep '
          'transformers stably", CogView\'s README)', ('layernorm-post',), kind='depth'),
    Check('layernorm-deepnorm', 'Wang et al. 2022, "DeepNet": "good performance of Post-LN '
          'and stable training of Pre-LN" (checked: trains at 4x depth where post-LN fails)',
          ('layernorm-post',), kind='depth'),
    Check('layernorm-admin', 'Liu et al. 2020, "Understanding the Difficulty of Training '
          'Transformers": "Admin is more stable, converges faster, and leads to better '
          'performance" (checked: trains at 4x depth where post-LN fails)',
          ('layernorm-post',), kind='depth'),
    Check('layernorm-mixln', 'Li et al. 2024, "Mix-LN": "Mix-LN consistently outperforms both '
          'Pre-LN and Post-LN"', ('layernorm-pre', 'layernorm-post'), 'better'),
    Check('layernorm-lns', 'Sun et al. 2025, "The Curse of Depth in Large Language Models": '
          '"LNS consistently outperforms previous normalization and scaling techniques"',
          ('layernorm-pre',), 'better'),
    Check('layernorm-hybridnorm', 'Zhuo et al. 2025, "HybridNorm": "HybridNorm consistently '
          'outperforms both Pre-Norm and Post-Norm approaches"',
          ('layernorm-pre', 'layernorm-post'), 'better'),
    Check('rezero', 'Bachlechner et al. 2020, "ReZero is All You Need": "ReZero converges 56% '
          'faster on enwiki8" (checked: reaches post-LN\'s final train loss in <= 1/1.56 of '
          'its steps)', ('layernorm-post',), kind='speed', factor=1 / 1.56),
    Check('ngpt', 'Loshchilov et al. 2024, "nGPT": "reducing the number of training steps '
          'required to achieve the same accuracy by a factor of 4 to 20" (checked: reaches '
          'LayerNorm-pre\'s final train loss in <= 1/4 of its steps)', ('layernorm-pre',),
          kind='speed', factor=0.25),
    Check('rezero', 'De & Smith 2020 (SkipInit, here ReZero): "a simple initialization scheme '
          'that can train deep residual networks without normalization" (checked: trains at '
          '4x depth where no norm fails)', ('none',), kind='depth'),
)


def get_config(arg=''):
  size = sizes.size_of(arg.partition('@')[0])
  c = sizes.learned_config(size)
  c.optim.lr_extend = sizes.lr_extend(size)  # the widths' grids; one-LR points stay
  if size in ('core', 'full'):
    c.train.checkpoint_every = 1000  # a kill loses at most half a run: ~0.5 h less in all
  return c


def methods(size):
  return {'smoke': ('layernorm-pre', 'derf-pre'),
          'quick': ('layernorm-pre', 'layernorm-post', 'none', 'derf-pre')}.get(size, METHODS)


def seeds(size, core):
  n = {'smoke': 1, 'quick': 2}.get(size, len(core))
  return [{'train.seed': s, 'data.seed': s} for s in core[:n]]


def width(d: int) -> dict:
  """The model at hidden size d, head size 32 and MLP 4d as at the base."""
  return {'model.hidden_dim': d, 'model.embed_dim': d, 'model.mlp_dim': 4 * d,
          'model.num_heads': max(d // 32, 1)}


def lrs(size):
  return {'smoke': (3e-3,), 'quick': (3e-3, 1e-2)}.get(size, LRS)


def get_sweep(arg=''):
  """The sweep stage, or with @SWEEP_WORKDIR the confirm stage planned from it."""
  size, _, sweep_workdir = arg.partition('@')
  size = sizes.size_of(size)
  if sweep_workdir:
    return confirm_points(size, sweep_workdir)
  data = DATA[:1] if size == 'smoke' else DATA
  points = [{'data.source': source, **METHODS[m], **seed, 'optim.lr': lr}
            for source in data for m in methods(size) for seed in seeds(size, SWEEP_SEEDS)
            for lr in lrs(size)]
  if size not in ('smoke', 'quick'):
    points += width_points(WIDTH_METHODS, size)
  return points


def width_points(names, size) -> list[dict]:
  return [{'data.source': 'topics', **METHODS[m], **width(d), **seed, 'optim.lr': lr}
          for m in names for d in WIDTHS for seed in seeds(size, SWEEP_SEEDS)[:1]
          for lr in lrs(size)]


def method_of(row: dict) -> str | None:
  """The METHODS name whose overrides a result row carries, the most specific
  first ('rezero' before 'none'); None for a row of no method."""
  for name, overrides in sorted(METHODS.items(), key=lambda kv: -len(kv[1])):
    if all(row.get(k) == v for k, v in overrides.items()):
      return name
  return None


def sweep_losses(sweep_workdir: str) -> dict[tuple[str, str], dict[float, list[float]]]:
  """(data, method) -> LR -> the final eval loss per seed at the base size, from
  the sweep stage's rows (one per point), a diverged run counting at ln V (as
  lnexp.runtime.plan.lr_extensions and lnexp.claims.evidence.best_lr count).
  Pure Python: the config loads without pandas."""
  path = os.path.join(sweep_workdir, 'results.jsonl')
  if not os.path.isfile(path):
    raise ConfigError(f'experiments/normbench.py:SIZE@{sweep_workdir} needs the sweep '
                      f'results {path}: run experiments/normbench.py:SIZE into it first')
  rows = {}
  for line in open(path):
    try:
      row = json.loads(line)
    except json.JSONDecodeError:  # a line cut short by a kill: that point reruns
      continue
    rows[row['point_id']] = row
  losses: dict = {}
  for row in rows.values():
    name = method_of(row)
    if name is None or 'model.hidden_dim' in row or 'model.num_layers' in row:
      continue  # another width or depth
    loss = row['final_eval_loss'] if row['status'] == 'ok' else None
    if loss is None or not math.isfinite(loss):
      loss = math.log(row['vocab_size'])
    losses.setdefault((row['data.source'], name), {}).setdefault(row['optim.lr'], []).append(
        loss)
  return losses


def best_lrs(losses: dict) -> dict[tuple[str, str], tuple[float, float]]:
  """(data, method) -> (best LR, its seed-mean loss) from `sweep_losses`, the
  lowest LR on a tie (as evidence.best_lr)."""
  return {key: min(((lr, sum(v) / len(v)) for lr, v in sorted(by_lr.items())),
                   key=lambda x: x[1])
          for key, by_lr in losses.items()}


def confirm_points(size: str, sweep_workdir: str) -> list[dict]:
  losses = sweep_losses(sweep_workdir)
  best = best_lrs(losses)
  data = DATA[:1] if size == 'smoke' else DATA
  depth_steps = max(get_config(size).train.steps // 4, 1)  # whether it trains shows by then
  points = []
  for source in data:
    for m in methods(size):
      runs = losses.get((source, m), {})
      if any(len(runs.get(lr, ())) < len(seeds(size, SWEEP_SEEDS)) for lr in lrs(size)):
        raise ConfigError(f'{sweep_workdir} has not finished the sweep of {m} on {source}: '
                          'finish the sweep stage first')
      lr = best[(source, m)][0]
      points += [{'data.source': source, **METHODS[m], **seed, 'optim.lr': lr}
                 for seed in seeds(size, CONFIRM_SEEDS)]
      if source == 'topics':
        deep = {'data.source': source, **METHODS[m], 'model.num_layers': 2 * DEPTH_FACTOR,
                'train.steps': depth_steps, 'optim.lr_extend': 0}  # its tuning: three LRs
        points += [{**deep, **seed, 'optim.lr': lr} for seed in seeds(size, DEPTH_SEEDS)]
        if size not in ('smoke', 'quick'):  # its own tuning at depth
          points += [{**deep, **seeds(size, DEPTH_SEEDS)[0], 'optim.lr': other}
                     for other in beside(lr)]
  if size not in ('smoke', 'quick'):
    ranked = sorted((loss, m) for (source, m), (_, loss) in best.items() if source == 'topics')
    extra = [m for _, m in ranked if m not in WIDTH_METHODS][:3]
    points += width_points(extra, size)
  return points


# --- the leaderboard (the report's extra: running needs none of it) ---------------

DELTA = 0.03
REFERENCE = 'layernorm-pre'
OUTCOME = {'supported': 'worse', 'contradicted': 'better', 'no effect': 'tie'}  # d = m - ref


def frames(out_results: str, point_ids=None):
  """(sweep rows, confirm rows) with `method`, `width` and `depth` columns."""
  from lnexp.claims import evidence as ev
  sweep = ev.load(os.path.join(out_results, STAGES[0]))
  confirm = ev.load(os.path.join(out_results, STAGES[1]), point_ids)
  for df in (sweep, confirm):
    df['method'] = [method_of(r) for r in df.to_dict('records')]
    hidden = df['model.hidden_dim'] if 'model.hidden_dim' in df else None
    df['width'] = 128 if hidden is None else hidden.fillna(128).astype(int)
    df['depth'] = df['model.num_layers'].astype(int)
  return sweep, confirm


def at_best(sweep, confirm, best: dict):
  """The base-size rows at each (data, method)'s best LR: the sweep's seeds
  there and the confirm stage's."""
  import numpy as np
  import pandas as pd
  base = sweep[(sweep['width'] == 128) & (sweep['depth'] == 2)]
  chosen = np.array([(d, m) in best and np.isclose(lr, best[(d, m)].lr) for d, m, lr in
                     zip(base['data.source'], base['method'], base['optim.lr'])], bool)
  confirmed = confirm[(confirm['width'] == 128) & (confirm['depth'] == 2)]
  planned = [best[(d, m)].lr for d, m in zip(confirmed['data.source'], confirmed['method'])]
  if not np.allclose(confirmed['optim.lr'], planned):
    raise ValueError('confirm-stage runs at an LR other than the sweep\'s best: the sweep '
                     'results changed after the confirm stage was planned')
  return pd.concat([base[chosen], confirmed], ignore_index=True)


def compare(rows, data: str, method: str, other: str, sweep_best: dict):
  """Seed-paired loss(method) - loss(other) on `data` over `rows` (at_best)."""
  from lnexp.claims import evidence as ev
  base = rows[rows['data.source'] == data]
  losses = {m: ev.by_seed(base[base['method'] == m], 'loss_or_ln_v') for m in (method, other)}
  bests = {m: sweep_best[(data, m)] for m in (method, other) if (data, m) in sweep_best}
  edge = '; '.join(f'{m} {ev.edge(b)}' for m, b in bests.items() if b.edge) or None
  c = ev.compare(f'{data}: loss({method}) - loss({other})', losses[method], losses[other],
                 DELTA, edge=edge)
  would = {f'would be {k}': f'would be {v}' for k, v in OUTCOME.items()}
  note = next((c.note.replace(k, v) for k, v in would.items() if c.note.endswith(k)), c.note)
  return c._replace(outcome=OUTCOME.get(c.outcome, c.outcome), note=note)


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """The leaderboard's tables and figures and each paper check, as Findings."""
  from lnexp.claims import evidence as ev
  from lnexp.claims import scoring
  sweep, confirm = frames(os.path.dirname(workdir), point_ids)
  base = sweep[(sweep['width'] == 128) & (sweep['depth'] == 2)]
  best = {(d, m): ev.best_lr(g) for (d, m), g in base.groupby(['data.source', 'method'])}
  common = base[base['optim.lr'].isin(LRS)]  # Wortsman et al.'s fixed LR range
  scored = {(d, m): scoring.scores(g) for (d, m), g in common.groupby(['data.source', 'method'])}
  five = at_best(sweep, confirm, best)
  tables, figures = [], []
  for data in dict.fromkeys(confirm['data.source']):
    c = five[five['data.source'] == data]
    means = c.groupby('method')['loss_or_ln_v'].mean().sort_values()
    rows = []
    for rank, (m, mean) in enumerate(means.items(), 1):
      vs = compare(five, data, m, REFERENCE, best) if m != REFERENCE else None
      sc = scored[(data, m)]
      rows.append([str(rank), m, ev.best_cell(best[(data, m)]),
                   ev.stat(c[c['method'] == m]['loss_or_ln_v']),
                   '-' if vs is None else ev.fmt_interval(vs.interval),
                   'reference' if vs is None else vs.outcome + (f' ({vs.note})' if vs.note
                                                                else ''),
                   ev.stat(sc.at_ln_v.values()), ev.stat(sc.at_unigram.values()),
                   ev.stat(sc.stable_decades.values(), 2)])
    tables.append(ev.table(
        f'**{data}**: methods by mean final eval loss over 5 seeds (2 of the sweep, 3 '
        f'fresh) at the best LR of the sweep (an edge: not bracketed after extension); '
        f'd = loss - '
        f'loss({REFERENCE}), 95% paired interval, better / worse / tie at delta = {DELTA}; '
        'from the sweep, on the common grid 1e-3..3e-2 (an extension\'s LRs left out): LR '
        'sensitivity with failures at ln V and at the unigram entropy, stable decades (LRs '
        'within 0.1 nats of the best x the grid step in decades).',
        ['rank', 'method', 'best LR', 'final eval loss', f'd vs {REFERENCE}', 'outcome',
         'S (failures at ln V)', 'S (failures at H)', 'stable decades'], rows))
    figures += lr_panels(base[base['data.source'] == data],
                         os.path.join(figdir, f'lr_{data}.png'), data)
  tables.append(depth_table(confirm, best))
  trend, figure = width_trend(sweep, confirm, os.path.join(figdir, 'width_trend.png'))
  tables.append(trend)
  findings = [ev.Finding('board', 'descriptive', '', tables, figures + figure)]
  return findings + [paper_finding(check, five, confirm, best, workdir)
                     for check in PAPER_CHECKS if (DATA[0], check.method) in best]


def deep_rows(confirm, best: dict, tuned: bool = False):
  """Topics rows at 4x depth: at the base's best LR, or (tuned) every LR of the
  method's own tuning there in the first depth seed."""
  import numpy as np
  deep = confirm[(confirm['depth'] == 2 * DEPTH_FACTOR) & (confirm['data.source'] == DATA[0])]
  if tuned:
    return deep[deep['train.seed'] == DEPTH_SEEDS[0]]
  base_lr = [best[(DATA[0], m)].lr if (DATA[0], m) in best else np.nan for m in deep['method']]
  return deep[np.isclose(deep['optim.lr'], base_lr)]


def depth_table(confirm, best: dict) -> str:
  from lnexp.claims import evidence as ev
  tuned = deep_rows(confirm, best, tuned=True)
  rows = []
  for m, g in deep_rows(confirm, best).groupby('method', sort=False):
    t = tuned[tuned['method'] == m]
    ok = t[t['label'].eq(ev.TRAINED)]
    own = ('-' if t['optim.lr'].nunique() < 2 else 'none trained' if ok.empty else  # '-': smoke
           '{:.3f} at {:g}'.format(*ok.loc[ok['final_eval_loss'].idxmin(),
                                           ['final_eval_loss', 'optim.lr']]))
    rows.append([m, f'{g["optim.lr"].iloc[0]:g}', ev.counts(g['label']),
                 ev.stat(ev.trained_only(g, 'final_eval_loss')), own])
  return ev.table(f'Depth robustness on topics: {2 * DEPTH_FACTOR} shared layers ({DEPTH_FACTOR}x '
                  f"the base) at the base's best LR and warm-up, a quarter of the base's "
                  'steps (early training): runs trained/collapsed/diverged, final eval loss of '
                  'the trained runs '
                  "(mean ± sd); after its own tuning (the base's LR and a half decade on "
                  f'either side, seed {DEPTH_SEEDS[0]}): the best final eval loss of a trained '
                  'run and its LR.',
                  ['method', 'LR', 'trained/collapsed/diverged', 'final eval loss',
                   'own tuning: best loss at LR'], rows)


def width_trend(sweep, confirm, path: str):
  """LR sensitivity (failures at ln V, 1 seed) per width on topics, its slope on
  log2 width per method (Wortsman et al. 2023, Fig. 1), and the figure."""
  import numpy as np
  import pandas as pd

  from lnexp.claims import evidence as ev
  from lnexp.claims import plots, scoring
  rows = pd.concat([sweep, confirm[confirm['width'] != 128]])
  rows = rows[(rows['data.source'] == 'topics') & (rows['depth'] == 2)
              & rows['optim.lr'].isin(LRS)]  # one LR range at every width
  first = rows['seed'].min()
  by = {}
  for (m, w), g in rows[rows['seed'] == first].groupby(['method', 'width']):
    if g['optim.lr'].nunique() > 1:
      by.setdefault(m, {})[w] = float(np.mean(list(scoring.scores(g).at_ln_v.values())))
  by = {m: s for m, s in by.items() if len(s) == 1 + len(WIDTHS)}
  table = ev.table('Width trend on topics (one seed): LR sensitivity with failures at ln V '
                   'per width on the common grid 1e-3..3e-2, and its slope on log2 width '
                   '(positive: more sensitive as the model widens).', ['method'] + [f'd={w}' for w in sorted({128, *WIDTHS})]
                   + ['slope'],
                   [[m] + [f'{s[w]:.3f}' for w in sorted(s)] + [
                       f'{np.polyfit(np.log2(sorted(s)), [s[w] for w in sorted(s)], 1)[0]:+.3f}']
                    for m, s in by.items()])
  if not by:
    return table, []
  fig, (ax,) = plots.figure()
  style = plots.base.styles_for(list(by))
  for m, s in by.items():
    ax.plot(sorted(s), [s[w] for w in sorted(s)], color=style[m]['color'],
            marker=style[m]['marker'], label=m)
  ax.set_xscale('log', base=2)
  ax.set_xlabel('model width d')
  ax.set_ylabel('LR sensitivity, failures at ln V (nats)')
  ax.legend(fontsize=7, ncol=2)
  ax.grid(True, alpha=0.3)
  return table, plots.save(fig, path)


def lr_panels(df, path: str, data: str) -> list[str]:
  """One panel per method, final eval loss vs LR (every seed, a failure at ln V),
  LayerNorm-pre dashed in each; the same axes and colours everywhere."""
  import numpy as np
  from matplotlib.figure import Figure

  from lnexp.claims import plots
  names = list(METHODS)
  cols = 5
  fig = Figure(figsize=(3.0 * cols, 2.4 * math.ceil(len(names) / cols)), layout='constrained')
  axes = fig.subplots(math.ceil(len(names) / cols), cols, sharex=True, sharey=True,
                      squeeze=False).ravel()
  ln_v = float(np.log(df['vocab_size'].iloc[0]))
  for ax, m in zip(axes, names):
    for name, colour, line in ((REFERENCE, '0.4', '--'), (m, 'tab:blue', '-')):
      for _, s in df[df['method'] == name].groupby('seed'):
        s = s.sort_values('optim.lr')
        ax.plot(s['optim.lr'], s['loss_or_ln_v'], color=colour, linestyle=line, marker='o',
                markersize=3, linewidth=1)
    ax.set_title(m, fontsize=8)
    ax.set_xscale('log')
    ax.grid(True, alpha=0.3)
  lowest = float(df['loss_or_ln_v'].min())  # set once, after every panel drew: shared axes
  axes[0].set_ylim(lowest - 0.05 * (ln_v - lowest), ln_v + 0.1)
  for ax in axes[len(names):]:
    ax.set_visible(False)
  fig.suptitle(f'{data}: final eval loss vs peak LR (blue: the method, every seed; grey '
               f'dashed: {REFERENCE}; a failure at ln V)',
               fontsize=10)
  return plots.save(fig, path)


def paper_finding(check, five, confirm, best, workdir):
  """A paper's claim against what the harness measured, by the rule."""
  import numpy as np

  from lnexp.claims import evidence as ev
  if check.kind == 'depth':
    deep = deep_rows(confirm, best)
    ok = {m: deep[deep['method'] == m]['label'].eq(ev.TRAINED).tolist()
          for m in (check.method, *check.against)}
    if any(not v for v in ok.values()):
      outcome = 'inconclusive'
    elif not all(ok[check.method]):
      outcome = 'not reproduced'
    else:
      outcome = ('reproduced' if any(not all(ok[b]) for b in check.against)
                 else 'inconclusive')
    effect = '; '.join(f'{m} trained {sum(v)}/{len(v)}' for m, v in ok.items())
  elif check.kind == 'speed':
    ratios = speed_ratios(confirm, check.method, check.against[0], workdir)
    median = float(np.median(ratios)) if ratios else math.nan
    outcome = ('inconclusive' if not ratios or any(map(math.isnan, ratios)) else
               'reproduced' if median <= check.factor else 'not reproduced')
    effect = (f'steps to {check.against[0]}\'s final train loss / its steps: median '
              f'{median:.2f} over {len(ratios)} runs (at most {check.factor:.2f} reproduces)')
  else:
    cs = [compare(five, d, check.method, other, best) for d in DATA
          for other in check.against if (d, other) in best and (d, check.method) in best]
    allowed = {'better': ('better',), 'tie': ('tie',), 'not worse': ('better', 'tie')}
    decided = ('better', 'worse', 'tie')
    ok = allowed[check.predicted]
    outcome = ('reproduced' if cs and all(c.outcome in ok for c in cs) else
               'not reproduced' if any(c.outcome in decided and c.outcome not in ok
                                       for c in cs) else 'inconclusive')
    effect = '; '.join(f'{c.name} {ev.fmt_interval(c.interval)} {c.outcome}' for c in cs)
  return ev.Finding(f'{check.method}/{check.kind}', outcome, effect, [], [], [check.paper])


def speed_ratios(confirm, method: str, reference: str, workdir: str) -> list[float]:
  """Per confirm seed and dataset at the base size: steps until `method`'s train
  loss (mean of 5 logs) reaches `reference`'s final one, over the run's steps
  (inf if never; NaN if either run failed)."""
  import numpy as np

  from lnexp.analysis import results
  from lnexp.claims import evidence as ev
  base = confirm[(confirm['depth'] == 2) & (confirm['width'] == 128)]
  out = []
  for (data, seed), g in base.groupby(['data.source', 'seed']):
    rows = {m: g[g['method'] == m] for m in (method, reference)}
    if any(len(r) != 1 for r in rows.values()):
      continue
    if any(r['label'].iloc[0] != ev.TRAINED for r in rows.values()):
      out.append(math.nan)
      continue
    curves = {m: results.load_metrics(workdir, r['point_id'].iloc[0]).dropna(
        subset=['train_loss']) for m, r in rows.items()}
    target = curves[reference]['train_loss'].iloc[-5:].mean()
    smooth = curves[method]['train_loss'].rolling(5).mean().to_numpy()
    reached = np.flatnonzero(smooth <= target)
    steps = rows[method]['steps'].iloc[0]
    out.append(curves[method]['step'].iloc[reached[0]] / steps if len(reached) else math.inf)
  return out


def board(out: str, findings: list, status: str) -> str:
  """NORMBENCH.md from the confirm stage's findings: the scale in one line, the
  leaderboard, its figures, the depth and width tables, the papers' claims."""
  from lnexp.claims import evidence as ev
  first, papers = findings[0], findings[1:]
  figures = [f'![{os.path.basename(f)}]({os.path.relpath(f, out)})' for f in first.figures]
  rows = [[f.notes[0], f.claim.split('/')[0], f.effect, f'**{f.verdict}**'] for f in papers]
  return '\n\n'.join([
      '# The normalization benchmark',
      f'Scale: {ev.LEARNED_SCALE}; d=128, 2 ALBERT-shared layers, 2,000 steps of 16 x 64 '
      'tokens on topics and python_docs, every method starting at ln V.',
      'Design, metrics and the rule fixed before the run: `experiments/normbench.py`; '
      'regenerate with `python -m lnexp.claims --suite normbench --report_only`. ' + status
      + ' Notes on the committed run (what it shows, the diagnostics behind its '
      'surprising rows, what it cannot show): `docs/normbench-notes.md`.',
      *first.tables, *figures, *cost_table(out),
      ev.table('Each paper\'s own claim, quoted, beside what this harness measured, with the '
               'outcome by the rule.', ['paper and claim', 'method', 'measured', 'outcome'],
               rows)]) + '\n'


def cost_table(out: str) -> list[str]:
  """Step time over LayerNorm-pre's per method, from the bench's JSON if committed."""
  from lnexp.claims import evidence as ev
  path = os.path.join(out, 'results', STAGES[1], 'bench.json')
  if not os.path.isfile(path):
    return []
  bench = json.load(open(path))
  key = lambda o: (o.get('model.placement', 'pre') if o.get('model.placement', 'pre') != 'pre'
                   else o['model.norm'])  # noqa: E731  the compute a method runs
  ratios = {key(r): r['over_layernorm_pre'] for r in bench['norms']['runs']}
  return [ev.table(f'Cost: train-step time over LayerNorm-pre\'s at this size, one process, '
                   f'median of interleaved rounds ({bench["machine"]["cpu_model"]}, '
                   f'{bench["machine"]["date"][:10]}).', ['method', 'step time / LayerNorm-pre'],
                   [[m, f'{ratios[key(o)]:.2f}'] for m, o in METHODS.items()
                    if key(o) in ratios])]
