"""The claims suite: the smoke suite end to end, and the verdict rules by hand."""
import io
import json
import math
import os
import re

import numpy as np
import pytest

from lnexp.claims import __main__ as claims_main
from lnexp.claims import catalog, rules, sizes, stats, suite
from lnexp.claims import evidence as ev
from lnexp.config import base_config, flatten
from lnexp.runtime import plan

# One experiment per engine path (transformer diagnostics and perturbation after
# a tuning stage, BatchNorm statistics, LSTM, CNN). Each group traces and
# compiles ~4 programs (~1 s each with the smoke size's `train.fast_compile`),
# so all 10 experiments (`python -m lnexp.claims --smoke`) would not fit 30 s.
SMOKE = ['depth_tune', 'depth', 'batchnorm_text', 'lstm_covariate_shift', 'cnn_depth']
RUNS = catalog.runs()


def analyse(name, *args):
  """experiments/NAME.py's analysis (its rule applied to a workdir)."""
  return RUNS[name].module.analyse(*args)


def test_smoke_suite_runs_experiments_and_reports_every_claim(tmp_path):
  out = io.StringIO()
  path = suite.run_suite('smoke', str(tmp_path), SMOKE, False, stream=out)
  report = open(path).read()
  for claim in ('1', '1b', '2', '3', '4', '5', '6', '7', '8', '9'):
    assert f'## Claim {claim}:' in report
  for name in SMOKE:
    rows = [json.loads(line) for line in open(tmp_path / 'results' / name / 'results.jsonl')]
    # Every run, diverged or not, reports the length its config asked for (4
    # steps at the smoke size), and a divergence happens within it.
    config = json.load(open(tmp_path / 'results' / name / 'config.json'))
    assert config['base']['train.steps'] == 4
    assert rows and all(r['steps'] == r.get('train.steps', config['base']['train.steps'])
                        for r in rows), [r['steps'] for r in rows]
    assert all(r['status'] in ('ok', 'diverged') for r in rows)
    assert all(r['diverged_step'] is None or 0 <= r['diverged_step'] <= r['steps']
               for r in rows)
    # The rules were recorded before the run, as they stand in the experiment file.
    recorded = json.load(open(tmp_path / 'results' / name / 'rules.json'))
    assert {k: v['sha256'] for k, v in recorded['rules'].items()} == rules.hashes(
        RUNS[name].rules_path)
    assert re.search(rf'\| {name} \| {len(rows)} \| 0 \|', report), name
    assert f'experiments/{RUNS[name].stem}.py' in report
  for figure in re.findall(r'!\[[^]]*\]\(([^)]+)\)', report):
    assert (tmp_path / figure).is_file(), figure
  # Every rule is quoted from the experiment's docstring, not restated.
  assert 'Verdict rules, fixed before running' in report
  # depth ran each variant at the setting that won its tuning, with the trained
  # model's perturbation response in its rows.
  tune = [json.loads(line) for line in open(tmp_path / 'results' / 'depth_tune' /
                                            'results.jsonl')]
  winner = min(tune, key=lambda r: r['final_eval_loss'])
  (row,) = [json.loads(line) for line in open(tmp_path / 'results' / 'depth' /
                                              'results.jsonl')]
  assert row['optim.warmup_steps'] == winner['optim.warmup_steps']
  assert row['perturb_amplification'] > 0 and row['perturb_kl'] >= 0
  # Rerunning resumes: nothing is trained again, no row is duplicated.
  suite.run_suite('smoke', str(tmp_path), ['depth'], False, stream=io.StringIO())
  assert len(open(tmp_path / 'results' / 'depth' / 'results.jsonl').readlines()) == 1


def test_spearman_matches_the_rank_formula():
  rng = np.random.default_rng(1)
  x, y = rng.normal(size=12), rng.normal(size=12)
  rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
  expected = 1 - 6 * np.sum((rx - ry) ** 2) / (12 * (12 ** 2 - 1))  # no ties
  rho, p, n = stats.spearman(x, y)
  assert rho == pytest.approx(expected) and n == 12 and 0 <= p <= 1
  rho, p, _ = stats.spearman(np.arange(10), np.arange(10) ** 3)
  assert rho == pytest.approx(1.0) and p < 0.001


LN_V = math.log(35)
VARIANTS = {'none': {'model.norm': 'none', 'model.embed_scale': 0.1},
            'layernorm-post': {'model.norm': 'layernorm', 'model.placement': 'post'},
            'layernorm-pre': {'model.norm': 'layernorm', 'model.placement': 'pre'},
            'rezero': {'model.norm': 'none', 'model.placement': 'rezero'}}


def _workdir(path, points, base=None):
  """A workdir of made-up rows: each point is (variant overrides, seed, lr, final
  eval loss or None for diverged, collapsed, extra row keys); extra['_metrics'],
  if given, is the point's metrics log (default: one line with its losses)."""
  base = flatten(base or base_config())
  sweep, rows = [], []
  os.makedirs(path / 'metrics')
  for overrides, seed, lr, loss, collapsed, extra in points:
    extra = dict(extra)
    lines = extra.pop('_metrics', [{'step': 10, 'train_loss': loss, 'eval_loss': loss}])
    point = {**overrides, 'train.seed': seed, 'data.seed': seed, 'optim.lr': lr}
    pid = plan.short_hash(point)
    sweep.append(point)
    rows.append({'point_id': pid, **point, 'group': 'g', 'lane': 0,
                 'status': 'ok' if loss is not None else 'diverged',
                 'init_loss': 3.6, 'final_train_loss': loss, 'final_eval_loss': loss,
                 'best_eval_loss': loss, 'steps': 10, 'wall_s': 1.0, 'entropy_floor': 2.5,
                 'unigram_entropy': 3.5, 'vocab_size': 35, 'collapsed': collapsed, **extra})
    with open(path / 'metrics' / f'{pid}.jsonl', 'w') as f:
      f.writelines(json.dumps(line) + '\n' for line in lines)
  (path / 'config.json').write_text(json.dumps({'name': 'x', 'base': base, 'sweep': sweep}))
  (path / 'results.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))


LRS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)


def _sweep(variant, seed, slope, centre=1e-2, diverge_above=None, source='topics'):
  """A V-shaped LR curve, loss = 2.5 + slope * |log10(lr / centre)|."""
  out = []
  for lr in LRS:
    loss = 2.5 + slope * abs(math.log10(lr / centre))
    if diverge_above is not None and lr > diverge_above:
      loss = None
    collapsed = loss is not None and loss >= 3.4
    out.append(({**VARIANTS[variant], 'data.source': source}, seed, lr, loss, collapsed, {}))
  return out


def _by_hand(slope, centre=1e-2, diverge_above=None, collapsed_at_ln_v=False):
  """v3's common-reference sensitivity (a collapsed run at its own loss, capped
  at ln V), or v4's scoring with every failed run, collapsed (>= 3.4) too, at ln V."""
  losses = [2.5 + slope * abs(math.log10(lr / centre)) for lr in LRS]
  losses = [LN_V if (diverge_above is not None and lr > diverge_above) or
            (collapsed_at_ln_v and loss >= 3.4) else min(loss, LN_V)
            for lr, loss in zip(LRS, losses)]
  return np.mean(losses) - min(losses)


def test_lr_sensitivity_rule_on_fabricated_results(tmp_path):
  # No norm: steep and diverging above 2e-2 (counted at ln V, not its loss);
  # LayerNorm: flat. Sensitivities differ by far more than delta = 0.05 under
  # both loss scorings, and LayerNorm keeps 3 LRs within 0.1 nats of its best
  # (slope < 0.19) where no norm keeps 1: all three scorings agree.
  points = []
  for seed, jitter in enumerate((0.0, 0.05, 0.1)):
    points += _sweep('none', seed, 0.8 + jitter, diverge_above=2e-2)
    points += _sweep('layernorm-post', seed, 0.12 + jitter / 10)
    points += _sweep('layernorm-pre', seed, 0.15 + jitter / 10)
  _workdir(tmp_path / 'a', points)
  found = {f.claim: f for f in analyse('lr_sensitivity', str(tmp_path / 'a'),
                                               str(tmp_path / 'figs'))}
  assert found['2'].verdict == 'supported'
  table = '\n'.join(found['2'].tables)
  expected = np.mean([_by_hand(0.8 + j, diverge_above=2e-2, collapsed_at_ln_v=True)
                      for j in (0.0, 0.05, 0.1)])
  # 3 seeds x 5 LRs: 6 diverged (LR 3e-2, 1e-1), 1 collapsed (seed 2 at 1e-3: 3.4)
  assert '| none | 3 | 8/1/6 | 3.600 ± 0.000 | 0.01 |' in table
  assert f'{expected:.3f} ±' in table
  # Reversed: LayerNorm steep, no norm flat -> contradicted.
  points = []
  for seed, jitter in enumerate((0.0, 0.05, 0.1)):
    points += _sweep('none', seed, 0.12 + jitter / 10)
    points += _sweep('layernorm-post', seed, 0.8 + jitter)
    points += _sweep('layernorm-pre', seed, 0.9 + jitter)
  _workdir(tmp_path / 'b', points)
  found = {f.claim: f for f in analyse('lr_sensitivity', str(tmp_path / 'b'), str(tmp_path))}
  assert found['2'].verdict == 'contradicted'
  # Equal curves: no effect; one variant's best LR at the grid's edge: that
  # comparison is inconclusive, so the verdict is mixed.
  points = []
  for seed, jitter in enumerate((0.0, 0.01, 0.02)):
    points += _sweep('none', seed, 0.3 + jitter)
    points += _sweep('layernorm-post', seed, 0.3 + jitter)
    points += _sweep('layernorm-pre', seed, 0.3 + jitter, centre=1e-3)
  _workdir(tmp_path / 'c', points)
  found = {f.claim: f for f in analyse('lr_sensitivity', str(tmp_path / 'c'), str(tmp_path))}
  assert found['2'].verdict == 'mixed'
  assert 'layernorm-post no effect' in found['2'].effect
  assert 'layernorm-pre inconclusive' in found['2'].effect
  assert 'lowest of 0.001..0.1: best LR at a grid edge' in '\n'.join(found['2'].tables)


def test_evidence_labels_outcomes_and_edges():
  import pandas as pd
  row = {'status': 'ok', 'collapsed': False}
  assert ev.label(row) == 'trained'
  assert ev.label({**row, 'collapsed': True}) == 'collapsed'
  assert ev.label({'status': 'diverged', 'collapsed': None}) == 'diverged'
  assert ev.combine(['supported', 'supported']) == 'supported'
  assert ev.combine(['supported', 'no effect']) == 'mixed'
  assert ev.combine([]) == 'inconclusive'
  x, y = {'0': 1.0, '1': 1.2, '2': 1.1}, {'0': 0.5, '1': 0.6, '2': 0.55}
  assert ev.compare('x', x, y, 0.1).outcome == 'supported'
  edged = ev.compare('x', x, y, 0.1, edge='lowest of 0.001..0.1')
  assert edged.outcome == 'inconclusive' and 'would be supported' in edged.row()[-1]
  # A missing (diverged) member makes a paired comparison inconclusive.
  assert ev.compare('x', {**x, '2': None}, y, 0.1).outcome == 'inconclusive'
  frame = ev.add_labels(pd.DataFrame({
      'optim.lr': [1e-3, 1e-2, 1e-1] * 2, 'seed': ['0'] * 3 + ['1'] * 3,
      'status': ['ok', 'ok', 'diverged'] * 2, 'collapsed': [False] * 6,
      'final_eval_loss': [3.0, 2.0, None, 2.9, 2.1, None], 'vocab_size': [35] * 6}))
  best = ev.best_lr(frame)
  assert best.lr == 1e-2 and best.edge is None and set(best.per_seed) == {'0', '1'}
  assert frame['loss_or_ln_v'].iloc[2] == pytest.approx(LN_V)  # diverged: ln V
  assert ev.best_lr(frame[frame['optim.lr'] < 0.05].assign(
      loss_or_ln_v=[2.0, 3.0, 2.0, 3.0])).edge == 'lowest'


def _claim7_points(bn_batch_stats_gap):
  """Padded: BatchNorm 0.1 nats worse than LayerNorm with running statistics and
  `bn_batch_stats_gap` worse with batch statistics; packed: they tie. RMSNorm
  ties LayerNorm on padded data (5 seeds); V-shaped in LR around 3e-3."""
  ln = {'model.norm': 'layernorm', 'model.placement': 'post'}
  bn = {'model.norm': 'batchnorm', 'model.placement': 'post', 'model.bn_axes': 'batch'}
  rms = {'model.norm': 'rmsnorm', 'model.placement': 'post'}
  points = []
  for pack in (False, True):
    for batch in (2, 32):
      for seed in range(5 if not pack else 3):
        for lr in (1e-3, 3e-3, 1e-2):
          base = 2.6 + 0.2 * abs(math.log10(lr / 3e-3)) + 0.01 * seed
          gap, stats_gap = (0.1, bn_batch_stats_gap) if not pack else (0.0, 0.0)
          arms = [(ln, base, base), (bn, base + gap + 0.003 * seed,
                                     base + stats_gap + 0.003 * seed)]
          if not pack:
            arms.append((rms, base + 0.001, base + 0.001))
          for variant, loss, batch_stats_loss in arms:
            points.append(({**variant, 'data.pack': pack, 'train.batch_size': batch},
                           seed, lr, loss, False,
                           {'final_eval_loss_batch_stats': batch_stats_loss}))
  return points


def test_claim_7_rule_on_fabricated_results(tmp_path):
  """BatchNorm judged on its better eval mode: with batch statistics worse
  still (0.15), running statistics decide: supported at both batch sizes, and
  the interaction with packed data (where they tie) is supported too. With
  batch statistics as good as LayerNorm, no effect. RMSNorm ties LayerNorm:
  "uniquely suited" (7-free) is contradicted."""
  _workdir(tmp_path / 'a', _claim7_points(0.15))
  found = {f.claim: f for f in analyse('batchnorm_text', str(tmp_path / 'a'), str(tmp_path))}
  assert found['7'].verdict == 'supported (early training)'
  table = '\n'.join(found['7'].tables)
  assert 'batch 2: d(padded) - d(packed) | +0.100' in table
  assert table.count('**supported**') == 4  # 2 batch sizes + 2 interactions
  assert '| batchnorm-post | padded | 2 | 5 | 15/0/0 | running statistics |' in table
  assert found['7-free'].verdict == 'contradicted'
  assert 'rmsnorm-post +0.001' in found['7-free'].effect
  _workdir(tmp_path / 'b', _claim7_points(0.0))
  found = {f.claim: f for f in analyse('batchnorm_text', str(tmp_path / 'b'), str(tmp_path))}
  assert found['7'].verdict == 'no effect (early training)'
  assert '| batch statistics |' in found['7'].tables[0]


def _embedding_points(post_at_3):
  """No norm 0.2 nats worse at x0.3 than at x1 and unchanged at x3; post-LN
  `post_at_3` nats worse at x3; V-shaped in LR around 3e-3 (bracketed)."""
  points = []
  for seed in range(5):
    noise = 0.004 * (seed - 2)
    for variant, shifts in (('none', {0.3: 0.2 + noise, 1.0: 0.0, 3.0: noise}),
                            ('layernorm-post', {0.3: noise, 1.0: 0.0, 3.0: post_at_3 + noise})):
      for scale, shift in shifts.items():
        for lr in (1e-3, 3e-3, 1e-2):
          loss = 2.6 + shift + 0.1 * abs(math.log10(lr / 3e-3))
          points.append(({**VARIANTS[variant], 'model.embed_scale': scale}, seed, lr, loss,
                         False, {}))
  return points


def test_embedding_scale_rules_on_fabricated_results(tmp_path):
  """Claim 10 supported (no norm's x0.3 contrast +0.2 > delta); 10b supported
  when both post-LN contrasts are inside +-0.03, contradicted when its x3
  contrast is +0.1; the interaction beside is exploratory."""
  _workdir(tmp_path / 'a', _embedding_points(0.0))
  found = {f.claim: f for f in analyse('embedding_scale', str(tmp_path / 'a'), str(tmp_path))}
  assert found['10'].verdict == 'supported'
  assert re.search(r'none: loss\(x0.3\) - loss\(x1\) \+0\.200 \[', found['10'].effect)
  assert found['10b'].verdict == 'supported'
  assert 'exploratory' in found['10'].tables[1]
  _workdir(tmp_path / 'b', _embedding_points(0.1))
  found = {f.claim: f for f in analyse('embedding_scale', str(tmp_path / 'b'), str(tmp_path))}
  assert found['10'].verdict == 'supported' and found['10b'].verdict == 'contradicted'
  # --quick runs x1 and x3 only: the contrasts it has, not an empty verdict (no
  # norm's x3 contrast is inside delta: the scale does not matter there).
  _workdir(tmp_path / 'c', [p for p in _embedding_points(0.1)
                            if p[0]['model.embed_scale'] != 0.3])
  found = {f.claim: f for f in analyse('embedding_scale', str(tmp_path / 'c'), str(tmp_path))}
  assert found['10'].verdict == 'contradicted' and found['10b'].verdict == 'contradicted'
  assert found['10'].effect.startswith('none: loss(x3) - loss(x1) +0.000 [')


def test_accelerator_size_plans_and_one_group_runs_shrunk_on_cpu(tmp_path):
  """`--size accel` (issue 27: d=256, 8 layers, >= 30M tokens per run, bfloat16,
  init seeds as lanes, shared ~0.8M and unshared ~6M parameters) plans here;
  one of its groups runs on CPU with every dimension shrunk."""
  import jax
  import jax.numpy as jnp

  from lnexp.models.model import AlbertGPT, ModelConfig
  from lnexp.train import sweep as run_lib
  planned = run_lib.plan_run(suite.spec('lr_sensitivity', 'accel'), {}, str(tmp_path / 'p'))
  points, groups = planned.points, planned.groups
  assert len(points) == 36 and [len(g.points) for g in groups] == [6] * 6
  for g in groups:
    c = g.config
    assert (c.model.hidden_dim, c.model.num_layers, c.model.dtype) == (256, 8, 'bfloat16')
    assert c.train.steps * c.train.batch_size * c.train.seq_len >= 30e6
    assert {p.overrides['train.seed'] for p in g.points} == {0, 1}  # seeds are lanes
    c.model.vocab_size = 35
    shapes = jax.eval_shape(lambda cfg=ModelConfig.from_config(c): AlbertGPT(cfg).init(
        jax.random.key(0), jnp.zeros((1, 8), jnp.int32), jnp.ones((1, 8), jnp.int32),
        jnp.ones((1, 8)), False))
    params = sum(x.size for x in jax.tree.leaves(shapes['params']))
    assert (0.8e6 < params < 0.9e6) if c.model.share == 'all' else (6e6 < params < 6.5e6)
  shrunk = {'model.hidden_dim': 16, 'model.embed_dim': 16, 'model.mlp_dim': 32,
            'model.num_layers': 2, 'train.batch_size': 2, 'train.seq_len': 16,
            'train.steps': 2, 'train.eval_every': 2, 'train.eval_batches': 1,
            'train.fast_compile': True, 'optim.lr_extend': 0}
  rows = run_lib.train_and_evaluate(suite.spec('lr_sensitivity', 'accel'), shrunk,
                                    str(tmp_path / 'w'), out=io.StringIO(), shard=(0, 6))
  assert len(rows) == 6 and all(r['status'] == 'ok' and r['steps'] == 2 for r in rows)


def test_claims_1_and_4_rules_on_fabricated_results(tmp_path):
  """Depth: no norm's gradients spread 10x over depth at init and 5x at the end,
  post-LN's 2x and 1.25x; the injected error grows 2x without a norm at init,
  not with post-LN. At init both rules are supported; after training one
  post-LN seed collapsed, so the end-of-training pairs miss it: inconclusive,
  and both claims are mixed."""
  import pandas as pd
  points, init = [], []
  for seed in range(3):
    for name, spread0, spread1, amp in (('none', 10.0, 5.0, 2.0),
                                        ('layernorm-post', 2.0, 1.25, 1.0)):
      for depth in (2, 16):
        grads = lambda s: [1.0] * (depth - 1) + [s + 0.01 * seed]  # noqa: E731
        collapsed = name == 'layernorm-post' and depth == 16 and seed == 2
        lines = [{'step': 1, 'depth/grad_flow': grads(spread0)},
                 {'step': 240, 'eval_loss': 2.6},
                 {'step': 300, 'eval_loss': 2.595, 'depth/grad_flow': grads(spread1),
                  'depth/residual_rms': [1.0] * depth}]
        points.append(({**VARIANTS[name], 'model.num_layers': depth,
                        'optim.warmup_steps': 15}, seed, 1e-2, 3.45 if collapsed else 2.595,
                       collapsed, {'_metrics': lines, 'perturb_amplification': amp * 0.5,
                                   'perturb_kl': 1e-7}))
      init += [{'variant': name, 'depth': d, 'seed': seed, 'amplification': amp}
               for d in (2, 4, 8, 16, 32)]
  _workdir(tmp_path / 'w', points)
  pd.DataFrame(init).to_csv(tmp_path / 'w' / 'perturbation_init.csv', index=False)
  found = {f.claim: f for f in analyse('depth', str(tmp_path / 'w'), str(tmp_path))}
  assert found['1'].verdict == found['4'].verdict == 'mixed'
  assert 'outcomes supported, inconclusive' in found['1'].effect
  table = '\n'.join(found['4'].tables)
  assert 'depth 32, init: log amp(none) - log amp(post-LN) | x2 [x2, x2] (n=3)' in table
  assert '(n=2, 1 missing) | x1.25 | **inconclusive**' in table
  assert any('did not train in 1/3 seeds' in n for n in found['4'].notes)
  # Eval loss fell 0.005 nats over the last 20% of steps: converged, 3/3.
  assert '| none | 16 | 0.01 / 15 | 3/0/0 | 3/3 |' in table


def test_claim_13_and_xu_rules_on_fabricated_results(tmp_path):
  """Gain and bias change nothing (no effect); DetachNorm is 0.1 nats worse
  than LayerNorm-simple (Xu et al. reproduced). LayerNorm's best loss 2.8
  closes (3.1 - 2.8) / (3.1 - 2.5) = 50% of the topics gap: early training."""
  points = []
  floors = {'bayes_loss': 2.5, 'context_free_loss': 3.1}
  for seed in range(5):
    for norm, shift in (('layernorm', 0.0), ('layernorm_simple', 0.001 * seed),
                        ('detachnorm', 0.1)):
      points += [({'model.norm': norm, 'model.placement': 'post'}, seed, lr,
                  2.8 + abs(math.log10(lr / 3e-3)) * 0.2 + shift, False, floors)
                 for lr in (1e-3, 3e-3, 1e-2)]
  _workdir(tmp_path / 'w', points)
  found = {f.claim: f for f in analyse('mechanism', str(tmp_path / 'w'), str(tmp_path))}
  assert found['13'].verdict == 'no effect (early training)'
  assert 'closed 50% of the topics context gap (< 75%' in found['13'].notes[0]
  assert found['13-lit'].verdict == 'reproduced'


def test_claim_9_is_inconclusive_when_a_seed_did_not_train(tmp_path):
  """A collapsed run is missing from a diagnostic comparison, never counted."""
  points = []
  for seed in range(3):
    for norm, growth in (('none', 8.0), ('layernorm', 2.0)):
      collapsed = norm == 'none' and seed == 0
      points.append(({'model.arch': 'cnn', 'model.norm': norm, 'model.num_layers': 12},
                     seed, 1e-2, 1.0, collapsed,
                     {'final_eval_accuracy': 0.9, '_metrics': [
                         {'step': 10, 'train_loss': 1.0, 'eval_loss': 1.0,
                          'depth/residual_rms': [1.0] * 11 + [growth]}]}))
  _workdir(tmp_path / 'w', points)
  (found,) = analyse('cnn_depth', str(tmp_path / 'w'), str(tmp_path))
  assert found.verdict == 'inconclusive' and '(n=2, 1 missing)' in found.effect
  _workdir(tmp_path / 'v', [(o, s, lr, loss, False, e) for o, s, lr, loss, _, e in points])
  (found,) = analyse('cnn_depth', str(tmp_path / 'v'), str(tmp_path))
  assert found.verdict == 'supported'


def test_claim_8_is_inconclusive_when_a_best_lr_is_at_the_grid_edge(tmp_path):
  """LayerNorm's hidden variance is flatter over time and its loss lower, but
  no norm's best LR is the grid's highest: not bracketed, so inconclusive."""
  def points(none_centre):
    out = []
    for seed in range(3):
      for norm, cv, base in (('none', 0.4, 2.4), ('layernorm', 0.1, 2.2)):
        centre = none_centre if norm == 'none' else 3e-3
        for lr in (1e-3, 3e-3, 1e-2):
          var_T = [1.0 + cv * (t % 2) for t in range(16)]
          loss = base + 0.3 * abs(math.log10(lr / centre)) + 0.01 * seed
          out.append(({'model.arch': 'lstm', 'model.norm': norm}, seed, lr, loss, False,
                      {'_metrics': [{'step': 10, 'train_loss': loss, 'eval_loss': loss,
                                     'time/hidden_var': var_T}]}))
    return out
  _workdir(tmp_path / 'edge', points(1e-1))
  (found,) = analyse('lstm_covariate_shift', str(tmp_path / 'edge'), str(tmp_path))
  assert found.verdict == 'inconclusive'
  assert 'highest of 0.001..0.01: best LR at a grid edge; would be supported' in \
      '\n'.join(found.tables)
  _workdir(tmp_path / 'inside', points(3e-3))
  (found,) = analyse('lstm_covariate_shift', str(tmp_path / 'inside'), str(tmp_path))
  assert found.verdict == 'supported'


def test_claim_8_judges_the_variance_after_the_start_up_transient(tmp_path):
  """No norm's hidden variance decays over the first 4 time steps (the state
  grows from zero), then alternates like LayerNorm's: v3's CV over all steps
  (beside, exploratory) says supported, the rule's CV over t >= 8 no effect;
  no norm's loss is 0.2 nats higher (supported): mixed."""
  out = []
  for seed in range(5):
    for norm, base in (('none', 2.4), ('layernorm', 2.2)):
      start = [5.0, 3.0, 2.0, 1.5] if norm == 'none' else []
      amp = 0.1 + (0.001 * seed if norm == 'none' else 0.0)
      var_T = start + [1.0 + amp * (t % 2) for t in range(len(start), 64)]
      for lr in (3e-3, 1e-2, 3e-2):
        loss = base + 0.3 * abs(math.log10(lr / 1e-2)) + 0.01 * seed
        out.append(({'model.arch': 'lstm', 'model.norm': norm}, seed, lr, loss, False,
                    {'_metrics': [{'step': 10, 'train_loss': loss, 'eval_loss': loss,
                                   'time/hidden_var': var_T}]}))
  _workdir(tmp_path / 'w', out)
  (found,) = analyse('lstm_covariate_shift', str(tmp_path / 'w'), str(tmp_path))
  assert found.verdict == 'mixed', found.effect
  assert re.search(r't >= 8 .* no effect; loss\(none\) - loss\(LayerNorm\) \+0\.200 .* '
                   r'supported', found.effect), found.effect
  assert re.search(r'all t \(v3\) .*\*\*supported\*\* \(exploratory', '\n'.join(found.tables))


def test_sharded_experiments_extend_their_grids_after_the_pool(tmp_path):
  """Shards cannot extend an LR grid (each sees part of the rows), so the suite
  extends after its pool, and the report's point ids include the extension."""
  from lnexp.train import sweep as run_lib
  tiny = os.path.join(os.path.dirname(__file__), 'tiny_config.py')
  experiments = tmp_path / 'experiments'
  experiments.mkdir()
  (experiments / 'edge.py').write_text(
      open(tiny).read().replace('def get_config():', "def get_config(arg=''):").replace(
          '  return c\n', '  c.train.steps = c.train.eval_every = 8\n'
          '  c.optim.lr_extend = 1\n  return c\n', 1) +
      "\n\ndef get_sweep(arg=''):\n  return [{'optim.lr': lr} for lr in (1e-5, 1e-4)]\n")
  out = str(tmp_path / 'out')
  spec, wd = suite.spec('edge', 'core', str(experiments), out), suite.workdir(out, 'edge')
  rows = run_lib.train_and_evaluate(spec, {}, wd, out=io.StringIO(), shard=(0, 1))
  assert sorted(r['optim.lr'] for r in rows) == [1e-5, 1e-4]  # a shard does not extend
  plans = {'edge': run_lib.plan_run(spec, {}, wd)}
  stream = io.StringIO()
  suite._extend(plans, catalog.runs(str(experiments)), 'core', out, stream)
  assert 'points extend the grid (lr 0.001)' in stream.getvalue()
  ids = suite._stored_ids(plans['edge'], wd)
  assert len(ids) == 3 and len(plans['edge'].points) == 2
  assert {r['optim.lr'] for r in map(json.loads, open(os.path.join(wd, 'results.jsonl')))
          if r['point_id'] in ids} == {1e-5, 1e-4, 1e-3}


def test_core_suite_plans_within_its_budget(tmp_path):
  """The core suite's planner estimate, depth planned from a fabricated tuning
  stage, stays within the claims v4 budget: 18 process-hours, 9 hours elapsed
  with 2 jobs. The issue set 8, assuming ~30 s per learned-size run; two
  processes on two cores measure 56 s (docs/claims-v4-plan.md)."""
  from lnexp.train import sweep as run_lib
  total, tuned_points = 0.0, []  # a tuning stage runs before the stage that reads it
  for name, run in RUNS.items():
    if run.tuned_by:
      tuner = suite.workdir(str(tmp_path), run.tuned_by)
      os.makedirs(tuner, exist_ok=True)
      with open(os.path.join(tuner, 'results.jsonl'), 'w') as f:
        for p in tuned_points:
          f.write(json.dumps({**p.overrides, 'status': 'ok', 'final_eval_loss': 3.0,
                              'vocab_size': 35}) + '\n')
    planned = run_lib.plan_run(suite.spec(name, 'core', out=str(tmp_path)), {},
                               suite.workdir(str(tmp_path), name))
    if not run.judged:
      tuned_points = planned.points
    total += plan.estimate_seconds(planned.groups)
  assert 30 * 60 < total / 2 <= 9 * 3600, f'{total / 120:.1f} min with 2 jobs'


@pytest.mark.parametrize('argv, message', [
    (['--only', 'bogus'], "unknown experiment 'bogus'"),
    (['--size', 'big'], "flag --size=big: value should be one of"),
    (['--out'], 'Missing value for flag --out'),
    (['--experiments', '/nonexistent'], 'no claims experiments in /nonexistent'),
    (['--jobs', '0'], 'expected a positive integer or auto'),
    (['--jobs', 'many'], 'expected a positive integer or auto'),
])
def test_bad_claims_arguments_exit_2_with_one_line(argv, message, capsys):
  assert claims_main.main(argv) == 2
  err = capsys.readouterr().err
  assert message in err and err.count('\n') == 1


def test_parallel_suite_units_are_unfinished_shards_longest_first(tmp_path):
  from lnexp.train import sweep as run_lib
  names = ['lstm_covariate_shift', 'depth_tune', 'gradient_scaling']  # not in time order
  plans = {n: run_lib.plan_run(suite.spec(n, 'core'), {}, suite.workdir(str(tmp_path), n))
           for n in names}
  # gradient_scaling has finished: its shards are not started again.
  os.makedirs(suite.workdir(str(tmp_path), 'gradient_scaling'))
  with open(os.path.join(suite.workdir(str(tmp_path), 'gradient_scaling'),
                         'results.jsonl'), 'w') as f:
    for p in plans['gradient_scaling'].points:
      f.write(json.dumps({'point_id': p.point_id, 'status': 'ok'}) + '\n')
  units = suite._units(plans, RUNS, 'core', str(tmp_path), 2)
  assert sorted(label for label, _ in units) == sorted(f'{n} {i}/2' for n in names[:2]
                                                       for i in (0, 1))
  shard = lambda label: int(label.split()[1].split('/')[0])
  estimates = [plan.estimate_seconds(plan.shard_groups(plans[label.split()[0]].groups,
                                                       shard(label), 2))
               for label, _ in units]
  assert estimates == sorted(estimates, reverse=True)
  assert [label.split()[0] for label, _ in units][0] == 'depth_tune'
  assert all(args[-2:] == ['--shard', label.split()[1]] for label, args in units)


def test_suite_runs_outside_a_checkout_with_experiments_dir(tmp_path):
  """lnexp installed elsewhere (a copy of the package, no experiments/ beside
  it): without --experiments one line says where to point it; with it, the
  suite finds and plans the experiments."""
  import shutil
  import subprocess
  import sys

  site = tmp_path / 'site'
  shutil.copytree(os.path.join(catalog.CHECKOUT_EXPERIMENTS, '..', 'lnexp'),
                  site / 'lnexp', ignore=shutil.ignore_patterns('__pycache__'))
  env = {**os.environ, 'PYTHONPATH': str(site)}
  def claims(*flags):
    return subprocess.run([sys.executable, '-m', 'lnexp.claims', '--smoke', '--only',
                           'gradient_scaling', '--report_only', '--out',
                           str(tmp_path / 'out'), *flags], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
  lost = claims()
  assert lost.returncode == 2 and 'no claims experiments in' in lost.stderr
  assert lost.stderr.count('\n') == 1
  found = claims('--experiments', catalog.CHECKOUT_EXPERIMENTS)
  assert found.returncode == 2 and 'holds no results yet' in found.stderr, found.stderr


def test_experiment_files_load_without_the_report_extra(tmp_path):
  """lnexp.run needs none of the `report` extra (pandas, matplotlib; scipy with
  them): every experiment file loads, configures and plans its sweep without it."""
  import subprocess
  import sys
  site = tmp_path / 'site'
  site.mkdir()
  (site / 'sitecustomize.py').write_text(
      "import sys\nsys.modules.update(dict.fromkeys(['pandas', 'matplotlib', 'scipy']))\n")
  probe = ('from lnexp.claims import catalog\n'
           'for run in catalog.runs().values():\n'
           '  run.module.get_config("core")\n'
           '  if not run.tuned_by:\n'
           '    run.module.get_sweep("core")\n'
           'print(len(catalog.runs()))\n')
  repo = os.path.dirname(catalog.CHECKOUT_EXPERIMENTS)
  env = {**os.environ, 'PYTHONPATH': os.pathsep.join(
      [str(site), repo, os.environ.get('PYTHONPATH', '')]).rstrip(os.pathsep)}
  done = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                        env=env, timeout=120)
  assert done.returncode == 0, done.stderr
  assert int(done.stdout) == len(RUNS) >= 14


def test_the_suite_finds_its_experiments_in_order():
  """Discovered, not listed: every experiment file with get_config, cheapest
  first by ORDER; a two-stage file's confirm stage after every first stage."""
  assert list(RUNS) == ['gradient_scaling', 'depth_tune', 'covariate_shift', 'mechanism',
                        'embedding_scale', 'sharing', 'variable_length', 'generalization',
                        'batchnorm_text', 'hyperparams', 'lr_sensitivity',
                        'lstm_covariate_shift', 'cnn_depth', 'lstm_length', 'landscape',
                        'instruments', 'depth']
  tune, confirm = RUNS['depth_tune'], RUNS['depth']
  assert tune.module is confirm.module and not tune.judged and tune.rules_path is None
  assert confirm.spec('core', 'OUT') == f'{confirm.path}:core@OUT/results/depth_tune'
  assert tune.spec('quick', 'OUT') == f'{tune.path}:quick'


def test_a_broken_experiment_file_is_one_line(tmp_path, capsys):
  (tmp_path / 'broken.py').write_text('def get_config(:\n')
  assert claims_main.main(['--experiments', str(tmp_path), '--jobs', '1']) == 2
  err = capsys.readouterr().err
  assert 'broken.py failed to load: SyntaxError' in err and err.count('\n') == 1


def test_claim_1b_judges_the_plain_init_and_reports_gpt2_beside(tmp_path):
  """Made-up last-layer gradients: with plain init post-LN's are flat in depth
  and pre-LN's fall as L^-1/2 (Xiong et al.'s prediction: reproduced); with
  GPT-2's branch init both are flat, which the rule only reports."""
  rng = np.random.default_rng(0)
  points = []
  for seed in range(5):
    for init in ('plain', 'gpt2'):
      for placement, slope in (('post', 0.0), ('pre', -0.5 if init == 'plain' else 0.0)):
        for depth in (2, 4, 8, 16):
          grad = depth ** slope * (1 + 0.01 * rng.standard_normal())
          metrics = [{'step': 1, 'train_loss': 3.5, 'layer_grad_norm/attn': [0.0, grad],
                      'layer_grad_norm/mlp': [0.0, 0.0]}]
          points.append(({'model.placement': placement, 'model.branch_init': init,
                          'model.num_layers': depth}, seed, 1e-3, 3.5, False,
                         {'_metrics': metrics}))
  _workdir(tmp_path / 'w', points)
  (found,) = analyse('gradient_scaling', str(tmp_path / 'w'), str(tmp_path))
  assert found.verdict == 'reproduced', found.effect
  assert re.search(r'plain init: post-LN [+-]0\.0\d\d .*pre-LN -0\.(49|50)\d', found.effect)
  assert re.search(r'beside, layernorm-post \(gpt2 init\) [+-]0\.0\d\d .*'
                   r'layernorm-pre \(gpt2 init\) [+-]0\.0\d\d', found.effect), found.effect


@pytest.mark.parametrize('experiment, key, levels', [
    ('sharing', 'model.share', ('all', 'none')),        # claim 11: shared, unshared
    ('variable_length', 'data.pack', (False, True))])   # claim 12: padded, packed
def test_claims_11_12_interaction_under_three_scorings(tmp_path, experiment, key, levels):
  """Claim 11 shared (12 padded): no norm's LR curve (slope 0.8 per decade from
  1e-2) is far steeper than post-LN's (0.09); unshared (packed): equal (0.09, no
  norm + 0.002 x seed). By
  hand, LR sensitivity = slope x mean |log10(lr / 1e-2)| over the grid = slope
  x (1 + 0.523 + 0 + 0.477 + 1) / 5 = slope x 0.6, so the interaction is
  (0.8 - 0.09) x 0.6 - 0.004 x 0.6 = +0.424 under both sensitivities; stable
  LRs (within 0.1 nats): 1 for slope 0.8, all 5 for slopes <= 0.098, so
  [5 - 1] - [5 - 5] = +4 LRs. All three agree: supported."""
  points = []
  for seed in range(5):
    for level, slopes in ((levels[0], {'none': 0.8, 'layernorm-post': 0.09}),
                          (levels[1], {'none': 0.09 + 0.002 * seed, 'layernorm-post': 0.09})):
      for variant, slope in slopes.items():
        points += [({**o, key: level}, s, lr, loss, c, e)
                   for o, s, lr, loss, c, e in _sweep(variant, seed, slope)]
  _workdir(tmp_path / 'w', points)
  (found,) = analyse(experiment, str(tmp_path / 'w'), str(tmp_path))
  assert found.verdict == 'supported', found.effect
  assert re.search(r'failures at ln V: \+0\.424 ', found.effect), found.effect
  assert re.search(r'stable LRs \(within 0\.1 nats of the best\): \+4\.000 ', found.effect)


def test_claim_3_two_failure_scorings_and_fragile(tmp_path):
  """No norm diverges without warm-up (counted at ln V = 3.555, or at the
  unigram entropy 3.5); post-LN barely moves there: supported under both.
  Pre-LN ends at 3.5 without warm-up: d = 3.555 - 3.5 = +0.055 > 0.05 at ln V
  but 0 at H: fragile. Init scale and batch move every variant alike: no
  effect. Six comparisons disagree: mixed."""
  hp = RUNS['hyperparams'].module
  centre = {'optim.warmup_steps': 100, 'model.init_scale': 1.0, 'train.batch_size': 16}
  values = {'optim.warmup_steps': (0, 40, 100, 200), 'model.init_scale': (0.5, 1.0, 2.0),
            'train.batch_size': (8, 16, 32)}
  points = []
  for seed in range(5):
    for name in hp.NAMES:
      for factor, vals in values.items():
        for v in vals:
          loss = 2.6 + 0.001 * seed + (0.1 if v in (0.5, 8) else 0.0)
          if factor == 'optim.warmup_steps' and v == 0:
            loss = {'none': None, 'layernorm-post': loss + 0.01, 'layernorm-pre': 3.5}[name]
          points.append(({**sizes.LEARNED_VARIANTS[name], **centre, factor: v}, seed,
                         hp.BEST_LR[name], loss, False, {}))
  _workdir(tmp_path / 'w', points)
  (found,) = analyse('hyperparams', str(tmp_path / 'w'), str(tmp_path))
  assert found.verdict == 'mixed'
  outcomes = dict(re.findall(r'(\w+/[\w-]+) (supported|contradicted|no effect|'
                             r'inconclusive|fragile)', found.effect))
  assert outcomes['warmup_steps/layernorm-post'] == 'supported'
  assert outcomes['warmup_steps/layernorm-pre'] == 'fragile'
  assert outcomes['init_scale/layernorm-post'] == outcomes['batch_size/layernorm-pre'] \
      == 'no effect'


def test_claim_5_ics_with_holm_and_the_learned_check(tmp_path):
  """No norm's Santurkar ICS is twice LayerNorm's at every LR (log 2 = 0.69 >
  log 1.25): six supported comparisons, still so after Holm. Post-LN's best
  loss 2.6 closes (3.1 - 2.6) / (3.1 - 2.5) = 83% of the topics gap: learned."""
  points = []
  floors = {'bayes_loss': 2.5, 'context_free_loss': 3.1}
  for seed in range(5):
    for name, ics in (('none', 2.0), ('layernorm-post', 1.0), ('layernorm-pre', 1.0)):
      for lr in (1e-3, 3e-3, 1e-2):
        value = ics * (1 + 0.01 * seed)
        metrics = [{'step': 200, 'train_loss': 2.6, 'eval_loss': 2.6,
                    'ics_santurkar_rel/attn': [value, value]}]
        loss = 2.6 + abs(math.log10(lr / 3e-3)) * 0.1 + 0.001 * seed * ics
        points.append(({**sizes.LEARNED_VARIANTS[name]}, seed, lr, loss, False,
                       {**floors, '_metrics': metrics}))
  _workdir(tmp_path / 'w', points, RUNS['covariate_shift'].module.get_config('core'))
  (found,) = analyse('covariate_shift', str(tmp_path / 'w'), str(tmp_path))
  assert found.verdict == 'supported', found.effect
  assert 'none 2.04' in found.effect and 'closed 83%' in found.notes[0]
  assert found.tables[1].count('Holm p') == 6


def test_claim_6_gap_at_the_end_and_at_matched_loss(tmp_path):
  """At each variant's best LR (3e-3, interior): no norm's eval loss sits 0.5
  above its train loss, LayerNorm's 0.2 above; train losses fall alike, so
  the gap at the end and at matched train loss both give d = +0.3:
  supported for post-LN and pre-LN."""
  points = []
  for seed in range(5):
    for name, gap in (('none', 0.5), ('layernorm-post', 0.2), ('layernorm-pre', 0.2)):
      for lr in (1e-3, 3e-3, 1e-2):
        worse = 0.3 * abs(math.log10(lr / 3e-3))
        lines = [{'step': 10 * i, 'train_loss': 3.0 - 0.1 * i + worse + 0.001 * seed,
                  'eval_loss': 3.0 - 0.1 * i + worse + gap + 0.001 * seed}
                 for i in range(1, 11)]
        points.append(({**sizes.LEARNED_VARIANTS[name]}, seed, lr,
                       lines[-1]['eval_loss'], False, {'_metrics': lines}))
  _workdir(tmp_path / 'w', points, RUNS['generalization'].module.get_config('core'))
  (found,) = analyse('generalization', str(tmp_path / 'w'), str(tmp_path))
  assert found.verdict == 'supported', found.effect
  assert found.effect.count('+0.300 [+0.300, +0.300]') == 4  # 2 LN variants x (end, matched)
