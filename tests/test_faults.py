"""Faults a careless user or an unlucky machine brings (issue 28): every one is a
clean one-line error or a run that heals, and a resume stays exact.

Every run here is one lane of one structure (a compile shared by all tests).
"""
from __future__ import annotations

import errno
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import jax
import pytest

import lnexp
from lnexp import config as config_lib
from lnexp import run
from lnexp.analysis import report
from lnexp.errors import ConfigError
from lnexp.ops import merge
from lnexp.runtime import lock as lock_lib
from lnexp.runtime import storage, tensorboard
from lnexp.runtime.workdir import Workdir
from lnexp.train import checkpoints, memory
from lnexp.train import sweep as train
from tests.gcs_emulator import gcs  # noqa: F401  (fixture)
from tests.test_tensorboard import read_events

HERE = os.path.dirname(__file__)
ROOT = os.path.dirname(HERE)
CONFIG = '''
from tests.tiny_config import get_config as tiny


def get_config():
  c = tiny()
  c.diagnostics.enabled = False
  return c


def get_sweep():
  return [{'optim.lr': 3e-3}]
'''
KEYS = ('final_eval_loss', 'best_eval_loss', 'final_train_loss', 'init_loss', 'steps')


@pytest.fixture(scope='module')
def one(tmp_path_factory):
  """(config path, finished workdir, its row): one lane, 40 steps, checkpoints 20, 40."""
  root = tmp_path_factory.mktemp('one')
  config = root / 'one.py'
  config.write_text(CONFIG)
  wd = root / 'done'
  assert run.main(['--config', str(config), '--workdir', str(wd)]) == 0
  return str(config), wd, json.loads((wd / 'results.jsonl').read_text())


def _copy(wd, to) -> str:
  shutil.copytree(wd, to)
  return str(to)


def _row(wd) -> dict:
  """The one whole result row of a workdir."""
  rows = []
  for line in open(os.path.join(wd, 'results.jsonl')):
    try:
      rows.append(json.loads(line))
    except json.JSONDecodeError:
      pass
  rows = [r for r in rows if 'point_id' in r]
  assert len(rows) == 1
  return rows[0]


def _one_line(capsys, needle: str = '') -> str:
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'Traceback' not in err, err
  assert needle in err, err
  return err


# ------------------------------------------------ 1: report without an LR axis

def _hand_workdir(path, sweep: list[dict], losses: list[float]) -> str:
  base = config_lib.flatten(config_lib.base_config())
  os.makedirs(path)
  (path / 'config.json').write_text(json.dumps({'name': 'h', 'base': base,
                                                'sweep': sweep}))
  from lnexp.runtime import plan
  ids = [p.point_id for p in plan.make_points(config_lib.base_config(), sweep)]
  rows = [{'point_id': ids[i], **entry, 'group': 'g', 'lane': 0, 'status': 'ok',
           'diverged_step': None, 'init_loss': 3.5, 'final_train_loss': loss,
           'final_eval_loss': loss, 'best_eval_loss': loss, 'steps': 10,
           'wall_s': 1.0, 'entropy_floor': 2.0, 'vocab_size': 35}
          for i, (entry, loss) in enumerate(zip(sweep, losses))]
  (path / 'results.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))
  return str(path)


def test_report_of_a_run_without_an_lr_sweep(tmp_path, capsys):
  single = _hand_workdir(tmp_path / 'single', [{}], [2.5])
  assert report.main([single]) == 0
  assert '| all points | 1 | 0.003..0.003 | 2.500 |' in capsys.readouterr().out
  norms = _hand_workdir(tmp_path / 'norms', [{'model.norm': 'layernorm'},
                                             {'model.norm': 'rmsnorm'}], [2.5, 2.4])
  assert report.main([norms]) == 0
  out = capsys.readouterr().out
  assert '| norm=rmsnorm | 1 | 0.003..0.003 | 2.400 |' in out


# ------------------------------------------------ 2: the workdir lock

@pytest.fixture
def dead_pid():
  proc = subprocess.Popen([sys.executable, '-c', 'pass'])
  proc.wait()
  return proc.pid


def _write_lock(wd, name: str, **record) -> None:
  os.makedirs(os.path.join(wd, 'locks'), exist_ok=True)
  with open(os.path.join(wd, 'locks', f'{name}.lock'), 'w') as f:
    json.dump({'host': socket.gethostname(), 'pid': os.getpid(), 'start_time': 0.0,
               'expires': time.time() + 60, **record}, f)


def test_lock_refuses_a_live_holder_and_takes_a_stale_one(tmp_path, dead_pid):
  wd = str(tmp_path)
  with lock_lib.WorkdirLock(wd):
    with pytest.raises(ConfigError, match=f'in use by host {socket.gethostname()} pid '
                                          f'{os.getpid()}'):
      lock_lib.WorkdirLock(wd).acquire()
    with pytest.raises(ConfigError, match='running whole'):
      lock_lib.WorkdirLock(wd, (0, 2)).acquire()  # the whole run covers every shard
  assert os.listdir(tmp_path / 'locks') == []  # released
  with lock_lib.WorkdirLock(wd, (0, 2)), lock_lib.WorkdirLock(wd, (1, 2)):
    with pytest.raises(ConfigError, match='running shard-0-of-2'):
      lock_lib.WorkdirLock(wd, (1, 3)).acquire()
  _write_lock(wd, 'whole', pid=dead_pid)  # killed: stale
  with lock_lib.WorkdirLock(wd):
    pass
  _write_lock(wd, 'whole', host='elsewhere', expires=time.time() - 1)  # lease expired
  with lock_lib.WorkdirLock(wd):
    pass
  _write_lock(wd, 'whole', host='elsewhere')
  with pytest.raises(ConfigError, match='host elsewhere'):
    lock_lib.WorkdirLock(wd).acquire()
  (tmp_path / 'locks' / 'whole.lock').write_text('{"host": "vm", "pi')  # torn: stale
  with lock_lib.WorkdirLock(wd):
    pass


def test_lock_waits_when_asked(tmp_path, monkeypatch):
  monkeypatch.setattr(lock_lib, 'POLL_S', 0.05)
  holder = lock_lib.WorkdirLock(str(tmp_path))
  holder.acquire()
  threading.Timer(0.3, holder.release).start()
  t0 = time.monotonic()
  with lock_lib.WorkdirLock(str(tmp_path), wait=True, out=open(os.devnull, 'w')):
    assert time.monotonic() - t0 >= 0.25


def test_second_run_on_a_workdir_in_use_exits_2_naming_the_holder(one, tmp_path, capsys):
  config, _, _ = one
  wd = tmp_path / 'w'
  _write_lock(str(wd), 'whole')  # this process "runs" it
  assert run.main(['--config', config, '--workdir', str(wd)]) == 2
  _one_line(capsys, f'pid {os.getpid()}')
  assert sorted(os.listdir(wd)) == ['locks']  # nothing written
  _write_lock(str(wd), 'shard-0-of-2')  # a shard of the same run: refused too
  assert run.main(['--config', config, '--workdir', str(wd), '--shard=0/2']) == 2
  _one_line(capsys, '--wait_for_lock')


# ------------------------------------------------ 3: torn lines

def test_torn_result_line_keeps_the_next_row_whole(one, tmp_path, capsys):
  config, done, row = one
  wd = _copy(done, tmp_path / 'w')
  text = open(os.path.join(wd, 'results.jsonl')).read()
  open(os.path.join(wd, 'results.jsonl'), 'w').write(text[:len(text) // 2])  # crash
  assert run.main(['--config', config, '--workdir', wd]) == 0
  err = capsys.readouterr().err
  assert f'skipped unreadable line 1 of {wd}/results.jsonl' in err
  assert err.count('\n') == 1
  assert {k: _row(wd)[k] for k in KEYS} == {k: row[k] for k in KEYS}


def test_keep_metrics_until_replaces_the_file_whole(one, tmp_path):
  _, done, row = one
  wd = Workdir(_copy(done, tmp_path / 'w'))
  path = wd.metrics(row['point_id'])
  with open(path, 'a') as f:
    f.write('{"step": 50, "train_lo')  # torn by a crash
  inode = os.stat(path).st_ino
  wd.keep_metrics_until(row['point_id'], 20)
  assert os.stat(path).st_ino != inode  # a new file, renamed over the old one
  assert [json.loads(line)['step'] for line in open(path)] == [10, 20]


# ------------------------------------------------ 4: damaged checkpoints

def test_damaged_latest_checkpoint_falls_back_to_the_previous_one(one, tmp_path, capsys):
  config, done, row = one
  wd = _copy(done, tmp_path / 'w')
  os.remove(os.path.join(wd, 'results.jsonl'))
  group = os.path.join(wd, 'checkpoints', row['group'])
  for data in ('d', 'ocdbt.process_0/d'):  # its array data gone: orbax's reads fail
    shutil.rmtree(os.path.join(group, '40', 'state', data))
  assert run.main(['--config', config, '--workdir', wd]) == 0
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and f'{group}/40 does not restore' in err, err
  assert 'falling back to step 20' in err
  assert {k: _row(wd)[k] for k in KEYS} == {k: row[k] for k in KEYS}  # exact
  os.remove(os.path.join(wd, 'results.jsonl'))
  shutil.rmtree(os.path.join(group, '40', 'host'))  # the host record gone
  assert run.main(['--config', config, '--workdir', wd]) == 0
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'Item "host" was not found' in err, err
  assert {k: _row(wd)[k] for k in KEYS} == {k: row[k] for k in KEYS}
  for step in ('20', '40'):  # every checkpoint damaged
    shutil.rmtree(os.path.join(group, step, 'state'))
  os.remove(os.path.join(wd, 'results.jsonl'))
  assert run.main(['--config', config, '--workdir', wd]) == 2
  err = capsys.readouterr().err
  assert f'error: no checkpoint in {group} restores' in err.splitlines()[-1]
  assert 'Traceback' not in err


# ------------------------------------------------ 5: memory, before anything is written

def test_memory_estimate_matches_a_hand_count():
  cfg = config_lib.apply_overrides(config_lib.base_config(), {
      'model.num_layers': 2, 'model.hidden_dim': 8, 'model.embed_dim': 8,
      'model.num_heads': 2, 'model.mlp_dim': 16, 'model.vocab_size': 10,
      'train.seq_len': 4, 'train.batch_size': 3})
  attn = 4 * 8 * 8 + 4 * 8 + 2 * 8    # q, k, v, out kernels and biases; its norm
  ffn = 2 * 8 * 16 + 16 + 8 + 2 * 8   # two kernels and biases; its norm
  embed = 10 * 8 + 4 * 8 + 8 * 10 + 10 + 2 * 8  # tokens, positions, output kernel and
                                                # bias (untied), final norm
  assert memory.param_count(cfg) == attn + ffn + embed  # shared: one block
  tokens = 3 * 4
  act = 2 * (tokens * (8 * 8 + 2 * 16) * 4 + 2 * 3 * 2 * 4 * 4 * 4) + 3 * tokens * 10 * 4
  assert memory.activation_bytes(cfg) == act
  assert memory.group_bytes(cfg, 4, 1, 'map') == (4 * 16 * (attn + ffn + embed) + act, 1)
  assert memory.group_bytes(cfg, 4, 1, 'vmap')[0] == 4 * 16 * (attn + ffn + embed) + 4 * act


def test_shipped_configs_fit_in_2_gib_per_group():
  for path in sorted(glob.glob(os.path.join(ROOT, 'configs', '*.py'))):
    plan = train.plan_run(path, {})
    for nbytes in train.check_memory(plan, plan.groups, jax.devices()).values():
      assert nbytes < 2 * memory.GIB, path


def test_a_group_that_cannot_fit_is_refused_before_writing(one, tmp_path, capsys,
                                                           monkeypatch):
  config, _, _ = one
  wd = tmp_path / 'w'
  assert run.main(['--config', config, '--workdir', str(wd),
                   '--config.train.batch_size=100000000']) == 2
  _one_line(capsys, 'smaller --config.train.batch_size')
  assert not wd.exists()
  sweep = tmp_path / 'lanes.py'
  sweep.write_text(CONFIG.replace("[{'optim.lr': 3e-3}]",
                                  "[{'optim.lr': lr} for lr in (1e-3, 2e-3, 3e-3)]"))
  plan = train.plan_run(str(sweep), {})
  need = train.check_memory(plan, plan.groups, jax.devices())[plan.groups[0].group_id]
  monkeypatch.setattr(memory, 'host_available', lambda: need - 1)  # 3 lanes do not fit
  assert run.main(['--config', str(sweep), '--workdir', str(wd)]) == 2
  _one_line(capsys, 'GiB is available; use --config.train.max_lanes_per_program=2 or')
  assert not wd.exists()


# ------------------------------------------------ 6: one line for each bad input

CONFIG_FILES = {
    'arg on a config without args': ('def get_config():\n  return 1\n', ':x',
                                     'takes no argument'),
    'get_config raises': ('def get_config():\n  raise ValueError("boom")\n', '',
                          'boom'),
    'get_config returns None': ('def get_config():\n  return None\n', '',
                                'not a ConfigDict'),
    'sweep entry not a dict': ('from lnexp.config import base_config as get_config\n'
                               'def get_sweep():\n  return [1]\n', '', 'not a dict'),
    'empty sweep': ('from lnexp.config import base_config as get_config\n'
                    'def get_sweep():\n  return []\n', '', 'non-empty'),
}


@pytest.mark.parametrize('case', sorted(CONFIG_FILES))
def test_bad_config_file_is_one_line(case, tmp_path, capsys):
  text, arg, needle = CONFIG_FILES[case]
  (tmp_path / 'c.py').write_text(text)
  assert run.main(['--config', f'{tmp_path / "c.py"}{arg}',
                   '--workdir', str(tmp_path / 'w')]) == 2
  _one_line(capsys, needle)
  assert not (tmp_path / 'w').exists()


def test_bad_workdirs_are_one_line(one, tmp_path, capsys):
  config, done, _ = one
  (tmp_path / 'file').write_text('x')
  assert run.main(['--config', config, '--workdir', str(tmp_path / 'file')]) == 2
  _one_line(capsys, 'is a file, not a directory')
  garbage = _copy(done, tmp_path / 'garbage')
  open(os.path.join(garbage, 'config.json'), 'w').write('{"base": {"model.norm": ')
  assert run.main(['--config', config, '--workdir', garbage]) == 2
  _one_line(capsys, 'config.json is not valid JSON')
  assert report.main([garbage]) == 2
  _one_line(capsys, 'config.json')
  (tmp_path / 'in').mkdir()
  assert merge.main(['--out', str(tmp_path / 'in'), str(tmp_path / 'in'), str(done)]) == 2
  _one_line(capsys, 'is also an input')
  assert merge.main(['--help']) == 0


def test_an_empty_row_is_skipped_by_run_and_report(one, tmp_path, capsys):
  config, done, row = one
  wd = _copy(done, tmp_path / 'w')
  with open(os.path.join(wd, 'results.jsonl'), 'a') as f:
    f.write('{}\n')
  assert run.main(['--config', config, '--workdir', wd]) == 0
  assert '1 points (1 finished)' in capsys.readouterr().out
  assert report.main([wd, '--out', str(tmp_path / 'r')]) == 0
  captured = capsys.readouterr()
  assert '| all points | 1 |' in captured.out and captured.err == ''  # warned once


FAULTS = ('read-only', 'disk full', 'checkpoint disk full', 'orbax disk full')


@pytest.mark.parametrize('fault', FAULTS)
def test_unwritable_workdir_is_one_line_and_the_resume_is_exact(fault, one, tmp_path,
                                                                capsys, monkeypatch):
  """Tests run as root, so the faults are injected at step 40 (after the step-20
  checkpoint), as a read-only or full disk makes them: the metrics append fails
  (EROFS, ENOSPC), the disk has no room for the checkpoint, or orbax's writer
  fails (it re-raises that as a ValueError)."""
  config, _, row = one
  wd = str(tmp_path / 'w')
  real_append, real_save = storage.append_lines, checkpoints.save

  def failing_append(path, lines):
    if path.endswith('.jsonl') and lines and '"step": 40' in lines[-1]:
      code = errno.EROFS if fault == 'read-only' else errno.ENOSPC
      raise OSError(code, os.strerror(code), path)
    real_append(path, lines)

  def failing_save(manager, step, state, host):
    if step == 40:
      raise ValueError('RESOURCE_EXHAUSTED: Error writing "params" in OCDBT database: '
                       '[OS error 28: No space left on device]')
    real_save(manager, step, state, host)
  if fault in ('read-only', 'disk full'):
    monkeypatch.setattr(storage, 'append_lines', failing_append)
  elif fault == 'orbax disk full':
    monkeypatch.setattr(checkpoints, 'save', failing_save)
  else:
    real_usage = shutil.disk_usage
    monkeypatch.setattr(shutil, 'disk_usage', lambda p: real_usage(p)._replace(
        free=0 if os.listdir(p) else 2**40))  # room for the step-20 checkpoint only
  assert run.main(['--config', config, '--workdir', wd]) == 2
  _one_line(capsys, 'read-only' if fault == 'read-only' else 'disk full')
  assert not os.path.exists(os.path.join(wd, 'results.jsonl'))
  assert os.listdir(os.path.join(wd, 'locks')) == []  # released
  monkeypatch.undo()
  assert run.main(['--config', config, '--workdir', wd]) == 0
  assert {k: _row(wd)[k] for k in KEYS} == {k: row[k] for k in KEYS}
  metrics = [json.loads(line)['step'] for line in open(
      Workdir(wd).metrics(row['point_id']))]
  assert metrics == [10, 20, 30, 40]


def test_sigint_is_one_line_exit_130_and_the_rerun_resumes(one, tmp_path, capsys):
  config, _, _ = one
  wd = str(tmp_path / 'w')
  cmd = ['--config', config, '--workdir', wd, '--config.train.steps=200',
         '--config.train.eval_every=100', '--config.train.checkpoint_every=20']
  proc = subprocess.Popen([sys.executable, '-m', 'lnexp.run', *cmd], cwd=ROOT,
                          env={**os.environ, 'PYTHONPATH': ROOT}, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  for line in proc.stdout:  # a progress line: the loop runs
    if line.startswith('group 1/1 step 40/200'):  # 160 steps (> 1 s) left
      break
  proc.send_signal(signal.SIGINT)
  proc.stdout.read()
  err = proc.stderr.read()
  assert proc.wait(timeout=60) == 130
  assert re.fullmatch(r'lnexp.run: interrupted at step \d+ of group 1/1 \(last checkpoint: '
                      r'step \d+\); rerun the same command to resume\n', err), err
  assert os.listdir(os.path.join(wd, 'locks')) == []
  assert run.main(cmd) == 0
  assert _row(wd)['steps'] == 200
  capsys.readouterr()


@pytest.mark.parametrize('checkpoint_on_sigterm', [True, False])
def test_sigterm_checkpoints_the_step_exits_143_and_resumes_bitwise(
    one, tmp_path, capsys, checkpoint_on_sigterm):
  """Spot preemption, SLURM and Kubernetes send SIGTERM: the loop finishes its
  step, checkpoints it (off the checkpoint cadence of 20) unless told not to,
  releases the lock, says so in one line and exits 143; the rerun resumes to
  the numbers of an uninterrupted run."""
  config, _, _ = one
  cmd = ['--config', config, '--config.train.steps=200', '--config.train.eval_every=100',
         '--config.train.checkpoint_every=20']
  wd, reference = str(tmp_path / 'w'), str(tmp_path / 'ref')
  assert run.main([*cmd, '--workdir', reference]) == 0
  proc = subprocess.Popen(
      [sys.executable, '-m', 'lnexp.run', *cmd, '--workdir', wd,
       f'--checkpoint_on_sigterm={str(checkpoint_on_sigterm).lower()}'],
      cwd=ROOT, env={**os.environ, 'PYTHONPATH': ROOT}, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True)
  for line in proc.stdout:
    if line.startswith('group 1/1 step 50/200'):  # between checkpoints 40 and 60
      break
  proc.send_signal(signal.SIGTERM)
  proc.stdout.read()
  err = proc.stderr.read()
  assert proc.wait(timeout=60) == 143
  found = re.fullmatch(r'lnexp.run: terminated at step (\d+) of group 1/1 \(last checkpoint: '
                       r'step (\d+)\); rerun the same command to resume\n', err)
  assert found, err
  step, checkpoint = int(found[1]), int(found[2])
  assert 50 <= step < 200
  assert checkpoint == step if checkpoint_on_sigterm else checkpoint % 20 == 0
  assert os.listdir(os.path.join(wd, 'locks')) == []
  assert not os.path.exists(os.path.join(wd, 'results.jsonl'))
  assert run.main([*cmd, '--workdir', wd]) == 0
  assert {k: _row(wd)[k] for k in KEYS} == {k: _row(reference)[k] for k in KEYS}
  capsys.readouterr()


# ------------------------------------------------ 9: a port that is not a coordinator

def test_coordinator_port_that_is_not_jax_is_one_line(one, tmp_path, capsys):
  config, _, _ = one
  server = socket.socket()
  server.bind(('127.0.0.1', 0))
  server.listen()
  port = server.getsockname()[1]
  flags = ['--config', config, '--workdir', str(tmp_path / 'w'), '--multihost',
           '--coordinator', f'127.0.0.1:{port}', '--num_processes', '2',
           '--init_timeout', '1']
  try:
    t0 = time.monotonic()
    assert run.main(flags + ['--process_id', '1']) == 2
    _one_line(capsys, 'not as a JAX coordinator')
    assert time.monotonic() - t0 < 10
    assert run.main(flags + ['--process_id', '0']) == 2  # its own port is taken
    _one_line(capsys, f'port {port} is in use')
  finally:
    server.close()
  assert not (tmp_path / 'w').exists()


# ------------------------------------------------ 11: load, TensorBoard

def test_load_of_a_missing_group_creates_nothing(one, tmp_path):
  _, done, row = one
  wd = _copy(done, tmp_path / 'w')
  shutil.rmtree(os.path.join(wd, 'checkpoints'))
  with pytest.raises(ConfigError, match=f'no checkpoints of group {row["group"]}'):
    lnexp.load(wd, row['point_id'])
  assert not os.path.exists(os.path.join(wd, 'checkpoints'))


def test_tensorboard_after_a_resume_has_each_step_once(one, tmp_path, monkeypatch):
  """Killed after the step-40 metrics were written but before its checkpoint: the
  resume from step 20 writes steps 30 and 40 again, once."""
  config, done, row = one
  wd = str(tmp_path / 'w')
  real_save = checkpoints.save

  def die_at_40(manager, step, state, host):
    if step == 40:
      raise KeyboardInterrupt
    real_save(manager, step, state, host)
  monkeypatch.setattr(checkpoints, 'save', die_at_40)
  with pytest.raises(KeyboardInterrupt, match='interrupted at step 40 of group 1/1'):
    train.train_and_evaluate(config, {}, wd, out=open(os.devnull, 'w'))
  monkeypatch.setattr(checkpoints, 'save', real_save)
  assert run.main(['--config', config, '--workdir', wd]) == 0
  name = f'layernorm-post-lr3e-03-{row["point_id"]}'
  assert os.listdir(os.path.join(wd, 'tensorboard')) == [name]
  logdir = os.path.join(wd, 'tensorboard', name)
  assert len(os.listdir(logdir)) <= 2  # one event file per process (here one twice)
  events = read_events(logdir)
  steps = [(tag, step) for step, tag, _ in events if tag == 'train_loss']
  assert steps == [('train_loss', s) for s in (10, 20, 30, 40)]
  hparams = [value for _, tag, value in events if tag == '_hparams_/session_start_info']
  assert len(hparams) == 1 and b'optim.lr' in hparams[0] and b'point_id' in hparams[0]
  finished = read_events(os.path.join(done, 'tensorboard', name))
  assert [(s, t, v) for s, t, v in events if t == 'eval_loss'] == [
      (s, t, v) for s, t, v in finished if t == 'eval_loss']


def test_run_names_say_variant_and_lr():
  cfg = config_lib.apply_overrides(config_lib.base_config(), {
      'model.norm': 'rmsnorm', 'model.placement': 'pre', 'optim.lr': 0.0003})
  assert tensorboard.run_name(cfg, 'ab12cd34') == 'rmsnorm-pre-lr3e-04-ab12cd34'


def test_lock_create_whose_answer_was_lost_still_counts_as_held(tmp_path, monkeypatch):
  """Object storage can apply a conditional create and lose the reply; the retry
  then finds the lock file. It is ours (our token), not another holder's."""
  from lnexp.runtime import storage
  write = storage.write_versioned

  def lost_reply(path, text, generation):
    write(path, text, generation)
    return None  # as if the request timed out after the write landed
  monkeypatch.setattr(storage, 'write_versioned', lost_reply)
  lock = lock_lib.WorkdirLock(str(tmp_path))
  assert lock.try_acquire() is None and lock.generation is not None
  monkeypatch.setattr(storage, 'write_versioned', write)
  lock.release()
  assert os.listdir(tmp_path / 'locks') == []


# ------------------------------------------------ 10: the storage server lost mid-run

PAUSED_AFTER_CHECKPOINT_20 = '''
import sys
from lnexp import run
from lnexp.train import loop
checkpoint = loop._checkpoint


def paused(ctx, *args, **kwargs):  # the test stops the storage server here
  checkpoint(ctx, *args, **kwargs)
  if ctx.step == 20:
    ctx.manager.wait_until_finished()
    print('checkpointed 20', flush=True)
    sys.stdin.readline()


loop._checkpoint = paused
sys.exit(run.main(sys.argv[1:]))
'''
GLOG_INFO = re.compile(r'I\d{4} ')  # tensorstore's "Using GOOGLE_AUTH_TOKEN_FOR_TESTING"


def test_storage_lost_mid_run_is_one_line_exit_75_and_the_rerun_resumes(
    one, gcs, capsys):  # noqa: F811
  """The gs:// server stops answering after the step-20 checkpoint (SIGSTOP: a
  hang, the worst case): the run exits 75 within its storage bound, in one line,
  instead of holding the machine; with the server back, the rerun resumes from
  step 20 to the numbers of an uninterrupted run (issue 36)."""
  config, _, reference = one
  wd = gcs.new_dir()
  proc = subprocess.Popen(
      [sys.executable, '-c', PAUSED_AFTER_CHECKPOINT_20, '--config', config, '--workdir', wd,
       '--config.train.storage_timeout_s=5'], cwd=ROOT, env={**os.environ, 'PYTHONPATH': ROOT},
      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  for line in proc.stdout:
    if line == 'checkpointed 20\n':
      break
  os.kill(gcs.proc.pid, signal.SIGSTOP)
  try:
    start = time.monotonic()
    proc.stdin.write('\n')
    proc.stdin.flush()
    _, err = proc.communicate(timeout=120)
    waited = time.monotonic() - start
  finally:
    os.kill(gcs.proc.pid, signal.SIGCONT)
  lines = [line for line in err.splitlines() if not GLOG_INFO.match(line)]
  assert proc.returncode == 75 and len(lines) == 1, err
  assert lines[0].startswith(f'lnexp: error: {wd}: checkpointing at step 40 did not finish '
                             'in 5 s (train.storage_timeout_s); finished points and '
                             'checkpoints are kept: rerun the same command to resume'), err
  assert waited < 5 + 20  # the bound, and the steps 21-40 before it
  assert run.main(['--config', config, '--workdir', wd]) == 0
  out = capsys.readouterr().out
  assert 'step 30/40' in out and 'step 10/40' not in out  # resumed from step 20
  rows = storage.read_text(storage.join(wd, 'results.jsonl')).splitlines()
  assert len(rows) == 1
  assert {k: json.loads(rows[0])[k] for k in KEYS} == {k: reference[k] for k in KEYS}
