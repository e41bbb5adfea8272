"""The claims suite: the smoke suite end to end, and the verdict rules by hand."""
import io
import json
import os
import re

import numpy as np
import pytest

from lnexp.engine import plan
from lnexp.claims import __main__ as claims_main
from lnexp.claims import analyses, rules, suite
from lnexp.config import base_config, flatten


# One experiment per engine path (transformer diagnostics, BatchNorm statistics,
# LSTM, CNN): ~20 s here. Each group traces and compiles ~4 programs (~1 s
# each with the smoke size's `train.fast_compile`), so all 8 experiments
# (`python -m lnexp.claims --smoke`: 37 s with 2 jobs) would not fit 30 s.
SMOKE = ['depth', 'batchnorm_text', 'lstm_covariate_shift', 'cnn_depth']


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
        suite.experiment_file(suite.CHECKOUT_EXPERIMENTS, name))
    assert re.search(rf'\| {name} \| {len(rows)} \| 0 \|', report), name
    assert f'experiments/{name}.py' in report
  for figure in re.findall(r'!\[[^]]*\]\(([^)]+)\)', report):
    assert (tmp_path / figure).is_file(), figure
  # Every rule is quoted from the experiment's docstring, not restated.
  assert 'Verdict rules, fixed before running' in report
  # Rerunning resumes: nothing is trained again, no row is duplicated.
  suite.run_suite('smoke', str(tmp_path), ['depth'], False, stream=io.StringIO())
  assert len(open(tmp_path / 'results' / 'depth' / 'results.jsonl').readlines()) == 1


def test_decide_and_seeds_held_follow_the_rule_per_seed():
  assert analyses.decide([True, True, True]) == 'supported'
  assert analyses.decide([False, False]) == 'not supported'
  assert analyses.decide([True, False]) == 'mixed'
  assert analyses.decide([]) == 'no data'
  # Not held but also not reversed (a tie) is not evidence against.
  assert analyses.decide([False], against=[False]) == 'mixed'
  import pandas as pd
  frame = pd.DataFrame({'seed': ['0', '0', '0', '1', '1', '1'],
                        'variant': ['none', 'layernorm-post', 'layernorm-pre'] * 2,
                        'x': [1.0, 0.5, 0.7, 1.0, 0.5, 1.5]})
  held, against = analyses.seeds_held(frame, 'x', ['layernorm-post', 'layernorm-pre'])
  assert held == [True, False] and against == [False, False]


def test_spearman_matches_the_rank_formula():
  rng = np.random.default_rng(1)
  x, y = rng.normal(size=12), rng.normal(size=12)
  rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
  expected = 1 - 6 * np.sum((rx - ry) ** 2) / (12 * (12 ** 2 - 1))  # no ties
  rho, p, n = analyses.spearman(x, y)
  assert rho == pytest.approx(expected) and n == 12 and 0 <= p <= 1
  rho, p, _ = analyses.spearman(np.arange(10), np.arange(10) ** 3)
  assert rho == pytest.approx(1.0) and p < 0.001


def _fabricate(path, sensitivity_like: dict[str, list[float]]):
  """An lr_sensitivity-like workdir: 3 LRs x 2 seeds per variant; final eval
  loss = 2 + offset * |log10(lr / 1e-2)|, drift = offset (made-up rows)."""
  base = flatten(base_config())
  sweep, rows = [], []
  variants = {'none': {'model.norm': 'none'},
              'layernorm-post': {'model.norm': 'layernorm', 'model.placement': 'post'},
              'layernorm-pre': {'model.norm': 'layernorm', 'model.placement': 'pre'}}
  os.makedirs(path / 'metrics')
  for name, offsets in sensitivity_like.items():
    for seed, offset in enumerate(offsets):
      for lr in (1e-3, 1e-2, 1e-1):
        point = {**variants[name], 'data.source': 'synthetic', 'train.seed': seed,
                 'data.seed': seed, 'optim.lr': lr}
        pid = plan.short_hash(point)
        sweep.append(point)
        loss = 2 + offset * abs(np.log10(lr / 1e-2))
        rows.append({'point_id': pid, **point, 'group': 'g', 'lane': 0, 'status': 'ok',
                     'init_loss': 4.0, 'final_train_loss': loss, 'final_eval_loss': loss,
                     'best_eval_loss': loss, 'steps': 10, 'wall_s': 1.0,
                     'entropy_floor': 1.9})
        with open(path / 'metrics' / f'{pid}.jsonl', 'w') as f:
          for step in (5, 10):
            f.write(json.dumps({'step': step, 'train_loss': loss, 'eval_loss': loss,
                                'ics_drift/depth/attn_norm_mean': [offset, offset]}) + '\n')
  (path / 'config.json').write_text(json.dumps({'name': 'x', 'base': base, 'sweep': sweep}))
  (path / 'results.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))


def test_lr_sensitivity_rule_on_fabricated_results(tmp_path):
  # LR sensitivity of a grid = mean(loss) - min(loss) = offset * 2/3 (by hand).
  _fabricate(tmp_path / 'a', {'none': [0.9, 0.9], 'layernorm-post': [0.3, 0.6],
                              'layernorm-pre': [0.6, 0.3]})
  findings = {f.claim: f for f in analyses.lr_sensitivity(str(tmp_path / 'a'),
                                                          str(tmp_path / 'figs'))}
  assert findings['2'].verdict == 'supported'
  assert 'none 0.600, post-LN 0.300, pre-LN 0.300' in findings['2'].effect
  assert findings['5'].verdict == 'supported'  # drift = offset, LN below none
  _fabricate(tmp_path / 'b', {'none': [0.9, 0.5], 'layernorm-post': [0.3, 0.6],
                              'layernorm-pre': [0.6, 0.3]})
  findings = {f.claim: f for f in analyses.lr_sensitivity(str(tmp_path / 'b'),
                                                          str(tmp_path / 'figs'))}
  assert findings['2'].verdict == 'mixed'  # seed 1: post-LN 0.6 > none 0.5


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
  from lnexp.engine import train as run_lib
  names = ['lstm_covariate_shift', 'depth', 'gradient_scaling']  # not in time order
  plans = {n: run_lib.plan_run(suite.spec(n, 'core'), {}, suite.workdir(str(tmp_path), n))
           for n in names}
  # gradient_scaling has finished: its shards are not started again.
  os.makedirs(suite.workdir(str(tmp_path), 'gradient_scaling'))
  with open(os.path.join(suite.workdir(str(tmp_path), 'gradient_scaling'),
                         'results.jsonl'), 'w') as f:
    for p in plans['gradient_scaling'][3]:
      f.write(json.dumps({'point_id': p.point_id, 'status': 'ok'}) + '\n')
  units = suite._units(plans, 'core', str(tmp_path), 2)
  assert sorted(label for label, _ in units) == sorted(f'{n} {i}/2' for n in names[:2]
                                                       for i in (0, 1))
  shard = lambda label: int(label.split()[1].split('/')[0])
  estimates = [plan.estimate_seconds(plan.shard_groups(plans[label.split()[0]][4],
                                                       shard(label), 2))
               for label, _ in units]
  assert estimates == sorted(estimates, reverse=True)
  assert [label.split()[0] for label, _ in units][0] == 'depth'
  assert all(args[-2:] == ['--shard', label.split()[1]] for label, args in units)


def test_suite_runs_outside_a_checkout_with_experiments_dir(tmp_path):
  """lnexp installed elsewhere (a copy of the package, no experiments/ beside
  it): without --experiments one line says where to point it; with it, the
  suite finds and plans the experiments."""
  import shutil
  import subprocess
  import sys
  from lnexp.claims import paths
  site = tmp_path / 'site'
  shutil.copytree(os.path.join(paths.CHECKOUT_EXPERIMENTS, '..', 'lnexp'),
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
  found = claims('--experiments', paths.CHECKOUT_EXPERIMENTS)
  assert found.returncode == 2 and 'holds no results yet' in found.stderr, found.stderr
