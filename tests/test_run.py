"""End-to-end runs through lnexp.run, in-process, on one shared tiny sweep."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lnexp import config as config_lib
from lnexp import run
from lnexp.errors import ConfigError
from lnexp.models import validate
from lnexp.runtime.workdir import Workdir
from lnexp.train import checkpoints, loop
from lnexp.train import sweep as train

HERE = os.path.dirname(__file__)
TINY = os.path.join(HERE, 'tiny_config.py')
LRS = (3e-3, 1e-2, 30.0)  # the last diverges


def _run(tmp, overrides=None, config=TINY):
  return train.train_and_evaluate(config, overrides, str(tmp))


@pytest.fixture(scope='session')
def sweep(tmp_path_factory):
  """The tiny 3-lane sweep every test here reuses: (workdir, rows by lr)."""
  wd = tmp_path_factory.mktemp('sweep')
  rows = _run(wd)
  return wd, {r['optim.lr']: r for r in rows}


def rows_by_lr(workdir) -> dict:
  """A workdir's result rows keyed by learning rate, parsed with the json module."""
  return {r['optim.lr']: r for r in map(json.loads, open(os.path.join(workdir,
                                                                      'results.jsonl')))}


def assert_same_results(got: dict, want: dict) -> None:
  """Same points and statuses; final eval losses within 1e-4 (relative)."""
  assert sorted(got) == sorted(want)
  for lr, row in want.items():
    assert got[lr]['status'] == row['status'], lr
    if row['status'] == 'ok':
      np.testing.assert_allclose(got[lr]['final_eval_loss'], row['final_eval_loss'],
                                 rtol=1e-4)


def _losses(rows):
  return np.array([r['final_eval_loss'] for r in rows])


def test_rows_have_the_contract_fields_and_parse_as_strict_json(sweep):
  wd, rows = sweep
  with open(wd / 'results.jsonl') as f:
    parsed = [json.loads(line, parse_constant=pytest.fail) for line in f]
  assert len(parsed) == 3
  for r in parsed:
    for key in ('point_id', 'optim.lr', 'group', 'lane', 'status', 'diverged_step',
                'init_loss', 'final_train_loss', 'final_eval_loss', 'best_eval_loss',
                'steps', 'wall_s', 'entropy_floor'):
      assert key in r
  ok = rows[3e-3]
  assert ok['status'] == 'ok' and ok['diverged_step'] is None and ok['steps'] == 40
  assert ok['final_eval_loss'] < ok['init_loss'] - 0.2  # it learns
  assert abs(ok['init_loss'] - np.log(35)) < 1.0
  bad = rows[30.0]
  assert bad['status'] == 'diverged' and 0 <= bad['diverged_step'] < 40
  for name in ('config.json', 'meta.json'):
    assert (wd / name).exists()
  for r in parsed:
    metrics = [json.loads(line) for line in open(wd / 'metrics' / f"{r['point_id']}.jsonl")]
    assert [m['step'] for m in metrics] == [1, 10, 20, 30, 40]  # step 1: diagnostics at init
    assert all({'train_loss', 'lr', 'grad_norm'} <= set(m) for m in metrics)
    assert 'depth/grad_flow' in metrics[0] and 'eval_loss' not in metrics[0]
    assert 'eval_loss' in metrics[2] and 'eval_loss' in metrics[4]
    run = f"layernorm-post-lr{r['optim.lr']:.0e}-{r['point_id']}"  # variant, LR, id
    assert len(os.listdir(wd / 'tensorboard' / run)) == 1  # one event file


def test_lanes_equal_points_run_alone_and_ignore_a_diverging_lane(sweep, tmp_path):
  """Two groups of one lane, without the diverging point, match the 3-lane sweep."""
  _, rows = sweep
  tiny_without_divergence = tmp_path / 'two_lrs.py'
  tiny_without_divergence.write_text(open(TINY).read().replace('(3e-3, 1e-2, 30.0)',
                                                               '(3e-3, 1e-2)'))
  alone = _run(tmp_path / 'wd', {'train.max_lanes_per_program': 1,
                                  'diagnostics.enabled': False},
               config=str(tiny_without_divergence))
  assert len({r['group'] for r in alone}) == 2
  metrics = open(tmp_path / 'wd' / 'metrics' / f"{alone[0]['point_id']}.jsonl").read()
  assert 'grad_norm' in metrics and 'depth/' not in metrics  # diagnostics off
  for r in alone:
    np.testing.assert_allclose(r['final_eval_loss'], rows[r['optim.lr']]['final_eval_loss'],
                               rtol=1e-4)


def test_rerun_skips_finished_points_and_extension_runs_only_new_ones(sweep, tmp_path,
                                                                    monkeypatch):
  wd, rows = sweep
  calls = []
  monkeypatch.setattr(loop, 'run_group', lambda g, *a, **k: calls.append(g))
  again = _run(wd)
  assert calls == [] and [r['point_id'] for r in again] == [
      rows[lr]['point_id'] for lr in LRS]
  extended = tmp_path / 'four_lrs.py'
  extended.write_text(open(TINY).read().replace('(3e-3, 1e-2, 30.0)',
                                                '(3e-3, 1e-2, 30.0, 2e-2)'))
  _run(wd, config=str(extended))
  assert [[p.config.optim.lr for p in g.points] for g in calls] == [[2e-2]]
  saved = json.load(open(wd / 'config.json'))
  assert saved['sweep'][-1] == {'optim.lr': 2e-2} and len(saved['sweep']) == 4


def test_workdir_with_different_base_config_is_refused(sweep, tmp_path):
  wd, _ = sweep
  with pytest.raises(ConfigError, match='different base config'):
    _run(wd, {'model.hidden_dim': 64})
  # A workdir from before lnexp had a key resumes when the key is at its default.
  saved = json.load(open(wd / 'config.json'))
  del saved['base']['train.fast_compile']
  old = tmp_path / 'old'
  old.mkdir()
  (old / 'config.json').write_text(json.dumps(saved))
  assert Workdir(str(old)).check_base(saved['base'] | {'train.fast_compile': False})
  with pytest.raises(ConfigError, match='differs in train.fast_compile'):
    Workdir(str(old)).check_base(saved['base'] | {'train.fast_compile': True})
  # ... at its first default where the default changed since (1.0, now 0.1).
  now = saved['base'] | {'train.fast_compile': False}
  del saved['base']['model.unembed_init']
  (old / 'config.json').write_text(json.dumps(saved))
  assert Workdir(str(old)).check_base(now | {'model.unembed_init': 1.0})
  with pytest.raises(ConfigError, match='differs in model.unembed_init'):
    Workdir(str(old)).check_base(now | {'model.unembed_init': 0.1})
  # A key the model does not read may differ (an LSTM's tie_embeddings).
  changed = now | {'model.unembed_init': 1.0, 'model.tie_embeddings': True}
  assert Workdir(str(old)).check_base(changed, moot={'model.tie_embeddings'})
  with pytest.raises(ConfigError, match='differs in model.tie_embeddings'):
    Workdir(str(old)).check_base(changed)


def test_moot_keys_are_those_no_arch_of_the_sweep_reads():
  lstm = validate.with_arch(config_lib.base_config(), 'lstm')
  assert {'model.tie_embeddings', 'model.branch_init'} <= validate.moot_keys(lstm, [])
  assert 'model.unembed_init' not in validate.moot_keys(lstm, [])  # the LSTM reads it
  assert 'model.tie_embeddings' not in validate.moot_keys(
      lstm, [{'model.arch': 'albert_gpt'}])


def test_killed_run_resumes_to_identical_numbers(sweep, tmp_path, monkeypatch):
  _, rows = sweep
  real_save = checkpoints.save

  def save_then_die(manager, step, state, host):
    real_save(manager, step, state, host)
    if step == 20:
      manager.wait_until_finished()
      raise KeyboardInterrupt  # killed right after the step-20 checkpoint

  monkeypatch.setattr(checkpoints, 'save', save_then_die)
  with pytest.raises(KeyboardInterrupt):
    _run(tmp_path)
  assert not (tmp_path / 'results.jsonl').exists()
  monkeypatch.setattr(checkpoints, 'save', real_save)
  resumed = {r['optim.lr']: r for r in _run(tmp_path)}
  for lr in LRS:
    for key in ('final_eval_loss', 'best_eval_loss', 'final_train_loss', 'init_loss',
                'diverged_step'):
      assert resumed[lr][key] == rows[lr][key], (lr, key)
  metrics = [json.loads(line) for line in
             open(tmp_path / 'metrics' / f"{rows[3e-3]['point_id']}.jsonl")]
  assert [m['step'] for m in metrics] == [1, 10, 20, 30, 40]


def test_resume_with_another_lane_split_matches_the_uninterrupted_run(tmp_path, monkeypatch,
                                                                     capsys):
  """The out-of-memory advice: rerun with another max_lanes_per_program. A point
  whose group changed restarts from step 0, one whose group is unchanged resumes
  from its checkpoint, finished points are kept, and every number equals the
  uninterrupted run's bitwise. (Lanes mapped one by one on a CPU compute alike
  in any lane loop; a one-lane program, which has no loop, matches them only
  with XLA's default optimisation, not the tests' unoptimised compile: every
  program here has two lanes or more.)"""
  four = tmp_path / 'four_lrs.py'
  four.write_text(open(TINY).read().replace('(3e-3, 1e-2, 30.0)', '(3e-3, 1e-2, 3e-2, 30.0)'))
  want = {r['optim.lr']: r for r in _run(tmp_path / 'uninterrupted', config=str(four))}
  real_save, real_restore = checkpoints.save, checkpoints.restore_latest
  saves, restored = [], []

  def save_then_die_at(kill):
    def save(manager, step, state, host):
      real_save(manager, step, state, host)
      saves.append(step)
      if len(saves) == kill:
        manager.wait_until_finished()
        raise KeyboardInterrupt
    return save

  def restore(manager, abstract_state, out=None):
    got = real_restore(manager, abstract_state, out)
    restored.append(got and got[0])
    return got

  wd = tmp_path / 'resumed'
  monkeypatch.setattr(checkpoints, 'restore_latest', restore)
  monkeypatch.setattr(checkpoints, 'save', save_then_die_at(1))  # all four lanes, step 20
  with pytest.raises(KeyboardInterrupt):
    _run(wd, config=str(four))
  saves.clear()  # two lanes a program: both restart; the second dies at its step 20
  monkeypatch.setattr(checkpoints, 'save', save_then_die_at(3))
  with pytest.raises(KeyboardInterrupt):
    _run(wd, {'train.max_lanes_per_program': 2}, config=str(four))
  assert restored == [] and 'was 0: an unfinished point' in capsys.readouterr().out
  assert sorted(rows_by_lr(wd)) == [3e-3, 1e-2]
  monkeypatch.setattr(checkpoints, 'save', real_save)
  calls = []
  monkeypatch.setattr(loop, 'run_group', lambda g, *a, real=loop.run_group, **k: (
      calls.append([p.config.optim.lr for p in g.points]), real(g, *a, **k))[1])
  got = {r['optim.lr']: r for r in _run(wd, {'train.max_lanes_per_program': 3},
                                        config=str(four))}
  assert calls == [[3e-2, 30.0]] and restored == [20]  # its group, from its checkpoint
  assert got[30.0]['status'] == 'diverged'
  for lr, row in want.items():
    for key in ('status', 'final_eval_loss', 'best_eval_loss', 'final_train_loss',
                'init_loss', 'diverged_step'):
      assert got[lr][key] == row[key], (lr, key)
  metrics = [json.loads(line) for line in
             open(wd / 'metrics' / f"{want[3e-3]['point_id']}.jsonl")]
  assert [m['step'] for m in metrics] == [1, 10, 20, 30, 40]  # the restart rewrote them


def test_four_devices_equal_one_device(sweep, tmp_path, capsys):
  _, rows = sweep
  env = {**os.environ, 'PYTHONPATH': os.path.dirname(HERE)}
  code = ('import jax, sys; from lnexp import run; '
          f'rc = run.main(["--config", {TINY!r}, "--workdir", {str(tmp_path)!r}, '
          '"--host_devices", "4"]); assert len(jax.devices()) == 4; sys.exit(rc)')
  proc = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                        text=True, timeout=240)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert_same_results(rows_by_lr(tmp_path), rows)
  # Resumed on one device, the 4-device checkpoints (3 lanes padded to 4) do not
  # fit: one line that names the devices as the likely cause, nothing trained.
  os.remove(tmp_path / 'results.jsonl')
  assert run.main(['--config', TINY, '--workdir', str(tmp_path)]) == 2
  err = capsys.readouterr().err
  assert 'no checkpoint in' in err.splitlines()[-1] and '--host_devices' in err
  assert not (tmp_path / 'results.jsonl').exists()


def test_load_returns_the_trained_params_of_a_point(sweep, caplog):
  import logging

  import jax

  import lnexp
  from lnexp.data import make_source
  from lnexp.models.model import AlbertGPT, ModelConfig
  from lnexp.train.steps import token_losses
  wd, rows = sweep
  row = rows[1e-2]
  with caplog.at_level(logging.INFO):
    cfg, params = lnexp.load(str(wd), row['point_id'])
  assert [r.getMessage() for r in caplog.records if r.name == 'absl'] == []  # quiet
  assert cfg.optim.lr == 1e-2 and cfg.model.vocab_size == 35
  source = make_source(cfg)
  model = AlbertGPT(ModelConfig.from_config(cfg))
  losses, counts = [], []
  for i in range(cfg.train.eval_batches):
    b = source.eval_batch(i)
    logits = jax.jit(model.apply)({'params': params}, b['inputs'], b['segment_ids'],
                                  b['input_mask'])
    ce = token_losses(logits, b['targets'])[0]
    losses.append(float((ce * b['loss_mask']).sum()))
    counts.append(float(b['loss_mask'].sum()))
  assert sum(losses) / sum(counts) == pytest.approx(row['final_eval_loss'], rel=1e-5)


def test_load_says_where_a_diverged_point_stopped_and_names_a_missing_workdir(sweep):
  import lnexp
  from lnexp.errors import ConfigError
  wd, rows = sweep
  bad = next(r for r in rows.values() if r['status'] == 'diverged')
  with pytest.warns(UserWarning, match=f"diverged at step {bad['diverged_step']}"):
    lnexp.load(str(wd), bad['point_id'])
  with pytest.raises(ConfigError, match='no such workdir: /nonexistent'):
    lnexp.load('/nonexistent', bad['point_id'])


def test_rows_label_runs_that_did_not_learn(sweep):
  _, rows = sweep
  for lr, row in rows.items():
    if row['status'] == 'diverged':
      assert row['collapsed'] is None
      continue
    h, floor = row['unigram_entropy'], row['entropy_floor']
    assert 0 < floor < h  # synthetic data: both known
    assert row['collapsed'] == (row['final_eval_loss'] >= h - 0.1 * (h - floor))


def test_batchnorm_initial_loss_uses_batch_statistics(tmp_path):
  """At init BatchNorm's running statistics are the identity, so in eval mode a
  BatchNorm model equals the model without norm; the initial loss (and with it
  the divergence threshold) must come from the batch statistics training uses."""
  config = tmp_path / 'two.py'
  config.write_text(open(TINY).read() + "\n\ndef get_sweep():\n  return [{'model.norm': n} "
                    "for n in ('batchnorm', 'none')]\n")
  # Output gain 1: logits large enough that the two statistics' losses differ
  # (the default fair start puts both within 0.02 nats of ln V).
  rows = {r['model.norm']: r for r in train.train_and_evaluate(
      str(config), {'train.steps': 1, 'train.eval_every': 1, 'model.unembed_init': 1.0},
      str(tmp_path / 'w'))}
  assert abs(rows['batchnorm']['init_loss'] - rows['none']['init_loss']) > 1e-2


def test_batch1_inference_rows_of_running_stats_norms(tmp_path):
  """Claim 7's low-resource inference: rows carry eval losses over single
  sequences, with batch and with running statistics. A causal BatchNorm position
  with one sample falls back to the running statistics, so at batch 1 the two
  agree; cumulative statistics (batch and past positions) still differ."""
  config = tmp_path / 'bn.py'
  config.write_text(open(TINY).read() + "\n\ndef get_sweep():\n  return [{'model.norm': n, "
                    "'model.bn_axes': a} for n, a in (('batchnorm', 'batch'), "
                    "('batchnorm', 'cumulative'), ('layernorm', 'batch'))]\n")
  rows = train.train_and_evaluate(str(config), {'train.steps': 2, 'train.eval_every': 2},
                                  str(tmp_path / 'w'))
  by = {(r['model.norm'], r['model.bn_axes']): r for r in rows}
  causal, cumulative = by[('batchnorm', 'batch')], by[('batchnorm', 'cumulative')]
  assert causal['batch1_loss_batch_stats'] == pytest.approx(causal['batch1_loss_running'],
                                                            rel=1e-6)
  assert abs(cumulative['batch1_loss_batch_stats'] - cumulative['batch1_loss_running']) > 1e-4
  assert 'batch1_loss_running' not in by[('layernorm', 'batch')]


def test_a_run_loads_its_config_once_and_builds_its_data_source_once(tmp_path, monkeypatch):
  """A 20-step configs/default.py run from the command line executes the config
  file once and builds base_config() once; one data source serves the plan, the
  memory check and the loop."""
  import importlib.machinery

  from lnexp import config as config_lib
  from lnexp import run
  from lnexp.data.base import DataSource
  default = os.path.join(os.path.dirname(HERE), 'configs', 'default.py')
  executed, bases, sources = [], [], []
  exec_module, base_config, init = (importlib.machinery.SourceFileLoader.exec_module,
                                    config_lib.base_config, DataSource.__init__)

  def counted_exec(loader, module):
    executed.extend([module] if os.path.abspath(loader.path) == default else [])
    return exec_module(loader, module)

  def counted_base():
    bases.append(1)
    return base_config()

  def counted_init(source, **kwargs):
    sources.append(source)
    init(source, **kwargs)
  monkeypatch.setattr(importlib.machinery.SourceFileLoader, 'exec_module', counted_exec)
  monkeypatch.setattr(config_lib, 'base_config', counted_base)
  monkeypatch.setattr(DataSource, '__init__', counted_init)
  assert run.main(['--config', default, '--workdir', str(tmp_path / 'w'),
                   '--config.train.steps=20', '--config.train.eval_every=20',
                   '--config.train.eval_batches=1', '--config.diagnostics.enabled=false']) == 0
  assert (len(executed), len(bases), len(sources)) == (1, 1, 1)
  row, = map(json.loads, open(tmp_path / 'w' / 'results.jsonl'))
  assert row['status'] == 'ok' and row['steps'] == 20


def test_a_config_file_imports_a_module_beside_it(tmp_path):
  from lnexp import config as config_lib
  (tmp_path / 'sibling_of_a_config.py').write_text('STEPS = 3\n')
  config = tmp_path / 'uses_sibling.py'
  config.write_text(open(TINY).read() + '\n\nimport sibling_of_a_config\n_tiny = get_config\n\n'
                    'def get_config():\n  c = _tiny()\n'
                    '  c.train.steps = sibling_of_a_config.STEPS\n  return c\n')
  assert config_lib.load_config_file(str(config)).base.train.steps == 3
  assert str(tmp_path) not in sys.path  # only while the file loads


def test_progress_eta_counts_from_the_first_update(monkeypatch, capsys):
  """The steps before the first update include compiling: the ETA leaves them out."""
  import types

  from lnexp.train import progress
  clock = iter([100.0, 101.0])  # 100 s of compiling, then 10 steps a second
  monkeypatch.setattr(progress, 'time', types.SimpleNamespace(time=lambda: next(clock)))
  bar = progress.Progress('group 1/1', 30, 0)
  for step in (10, 20):
    bar.update(step, np.array([3.0, np.nan]), 1)
  assert capsys.readouterr().out.splitlines() == [
      'group 1/1 step 10/30 best 3.000 worst 3.000 diverged 1',
      'group 1/1 step 20/30 best 3.000 worst 3.000 diverged 1 eta 1s']


def test_the_table_shows_collapsed_runs_and_the_entropy_floor():
  import io

  from lnexp.train.sweep import print_table
  rows = [{'point_id': 'a', 'optim.lr': 0.1, 'status': 'ok', 'collapsed': True,
           'final_eval_loss': 3.5, 'entropy_floor': 2.459},
          {'point_id': 'b', 'optim.lr': 0.01, 'status': 'ok', 'collapsed': False,
           'final_eval_loss': 2.5, 'entropy_floor': None},
          {'point_id': 'c', 'optim.lr': 1.0, 'status': 'diverged', 'collapsed': None,
           'final_eval_loss': None, 'entropy_floor': 2.459}]
  out = io.StringIO()
  print_table(rows, out)
  lines = [line.split() for line in out.getvalue().splitlines()]
  assert lines == [['point_id', 'optim.lr', 'status', 'final_eval_loss', 'floor'],
                   ['a', '0.1', 'collapsed', '3.5000', '2.4590'],
                   ['b', '0.01', 'ok', '2.5000', 'null'],
                   ['c', '1.0', 'diverged', 'null', '2.4590']]


def test_group_lines_name_the_placement_used_and_no_norm_alone():
  from lnexp.train.sweep import describe_group, plan_run
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  plan = plan_run(os.path.join(root, 'configs', 'quick_compare.py'), {})
  lines = [describe_group(g, None) for g in plan.groups]
  assert [line.split(', ', 1)[1].split(' L=')[0] for line in lines] == [
      'layernorm/post share=all', 'rmsnorm/post share=all', 'batchnorm/post share=all',
      'none share=all']
