"""A TPU pod simulated on this machine: lnexp.launch against a stand-in gcloud.

tests/fake_gcloud.py implements the `compute tpus tpu-vm` forms the launcher
uses; a VM is a directory with one home directory per worker, `--worker=all`
runs on all of them at once, and `python3` on a worker is this Python's base
interpreter with this venv's packages standing for the image's. The run
writes a gs:// workdir on the GCS emulator. JAX's TPU auto-detection needs
TPU hardware, so these runs pass the coordinator explicitly
(`--coordinator_port`); `--install=wheel` installs the wheel built from HEAD
with no downloads.
"""
import json
import os
import signal
import sys
import sysconfig
import time

import numpy as np
import pytest

from lnexp import merge, report, run
from lnexp.ops import launch
from lnexp.runtime import storage
from tests.gcs_emulator import free_port, gcs  # noqa: F401  (fixture)
from tests.test_run import TINY

HERE = os.path.dirname(os.path.abspath(__file__))
# Long enough that the kill after the first checkpoint lands mid-run.
RUN_FLAGS = ['--config', os.path.relpath(TINY, launch.ROOT),
             '--config.diagnostics.enabled=false', '--config.train.steps=80',
             '--config.train.eval_every=20', '--config.train.checkpoint_every=20']


@pytest.fixture
def pod(tmp_path, monkeypatch):
  """PATH with the stand-in gcloud; returns the directory that holds its VMs."""
  root, bin_dir = tmp_path / 'cloud', tmp_path / 'bin'
  root.mkdir()
  bin_dir.mkdir()
  gcloud = bin_dir / 'gcloud'
  gcloud.write_text(f'#!/bin/sh\nexec {sys.executable} {HERE}/fake_gcloud.py "$@"\n')
  gcloud.chmod(0o755)
  monkeypatch.setenv('PATH', f'{bin_dir}:{os.environ["PATH"]}')
  monkeypatch.setenv('FAKE_GCLOUD_ROOT', str(root))
  monkeypatch.setenv('FAKE_GCLOUD_PYTHON', sys._base_executable)
  monkeypatch.setenv('FAKE_GCLOUD_PYTHONPATH', sysconfig.get_paths()['purelib'])
  monkeypatch.delenv('PYTHONPATH', raising=False)
  monkeypatch.chdir(tmp_path)
  return root


def launch_ok(capfd, *argv) -> str:
  rc = launch.main(list(argv))
  out, err = capfd.readouterr()
  assert rc == 0, out[-3000:] + err[-3000:]
  return out


def worker_file(root, i: int, name: str) -> str:
  return os.path.join(root, 'pod', f'worker-{i}', 'lnexp', name)


def wait_for(predicate, timeout_s: float, what: str, logs=()):
  deadline = time.monotonic() + timeout_s
  while not predicate():
    if time.monotonic() > deadline:
      tails = ''.join(open(p).read()[-2000:] for p in logs if os.path.exists(p))
      raise AssertionError(f'timed out waiting for {what}\n{tails}')
    time.sleep(0.1)


def committed_checkpoint(workdir: str, step: int) -> bool:
  groups = storage.listdir(storage.join(workdir, 'checkpoints'))
  return any(storage.exists(storage.join(workdir, 'checkpoints', g, str(step),
                                         'commit_success.txt')) for g in groups)


def preempt(root) -> None:
  """What a preemption does to a slice: every worker's processes die at once."""
  for i in range(2):
    os.killpg(int(open(worker_file(root, i, 'run.pid')).read()), signal.SIGKILL)
  vm = os.path.join(root, 'pod', 'vm.json')
  with open(vm) as f:
    description = json.load(f)
  with open(vm, 'w') as f:
    json.dump({**description, 'state': 'PREEMPTED'}, f)


@pytest.mark.slow
def test_preempted_pod_resumes_to_the_uninterrupted_result(pod, gcs, capfd,  # noqa: F811
                                                           tmp_path):
  workdir = gcs.new_dir('pod')
  flags = ['--name=pod', '--zone=test-zone', '--accelerator=v4-16', '--spot',
           '--install=wheel', f'--coordinator_port={free_port()}']
  logs = [worker_file(pod, i, 'run.log') for i in range(2)]
  argv = ['tpu', 'run', *flags, '--', *RUN_FLAGS, f'--workdir={workdir}']
  out = launch_ok(capfd, *argv)
  assert 'started on 2 worker(s)' in out
  wait_for(lambda: committed_checkpoint(workdir, 20), 60, 'the first checkpoint', logs)
  preempt(pod)
  assert not storage.exists(storage.join(workdir, 'results.jsonl'))  # killed mid-run
  locks = storage.listdir(storage.join(workdir, 'locks'))  # the dead holder's

  out = launch_ok(capfd, *argv)  # the same command, after the preemption
  assert 'PREEMPTED: deleting and creating it again' in out
  assert out.count('(held on the preempted VM)') == len(locks)
  wait_for(lambda: all(os.path.exists(worker_file(pod, i, 'run.exit')) for i in range(2)),
           60, 'the resumed run', logs)
  for log in logs:
    text = open(log).read()
    assert text.count('=== ') == 1 and 'start process' in text  # a fresh VM's log
  assert [open(worker_file(pod, i, 'run.exit')).read().strip() for i in range(2)] == \
      ['0', '0'], open(logs[0]).read()[-3000:]

  out = launch_ok(capfd, 'tpu', 'status', *flags, '--', f'--workdir={workdir}')
  assert 'pod: READY (v4-16)' in out and out.count('exited 0') == 2
  assert '3/3 points finished' in out
  out = launch_ok(capfd, 'tpu', 'logs', *flags, '--lines=3')
  assert '[worker 0] workdir: ' + workdir in out and '[worker 1]' in out
  launch_ok(capfd, 'tpu', 'fetch', *flags, '--dest=fetched', '--', f'--workdir={workdir}')
  fetched = tmp_path / 'fetched'
  assert sorted(os.listdir(fetched / 'logs')) == ['worker-0.log', 'worker-1.log']
  assert not (fetched / 'checkpoints').exists()
  rows = {r['optim.lr']: r for r in map(json.loads, open(fetched / 'results.jsonl'))}
  for point_id in (r['point_id'] for r in rows.values()):  # staged, uploaded, resumed
    steps = [json.loads(line)['step'] for line in open(fetched / 'metrics' /
                                                       f'{point_id}.jsonl')]
    assert steps == sorted(set(steps)) and steps[-1] == 80

  assert run.main(['--config', TINY, *RUN_FLAGS[2:], '--workdir',
                   str(tmp_path / 'single')]) == 0
  single = {r['optim.lr']: r for r in map(json.loads,
                                          open(tmp_path / 'single' / 'results.jsonl'))}
  assert sorted(rows) == sorted(single)
  for lr, want in single.items():
    got = rows[lr]
    assert (got['status'], got['steps']) == (want['status'], want['steps']), lr
    for key in ('final_eval_loss', 'best_eval_loss'):
      np.testing.assert_allclose(got[key], want[key], rtol=1e-4, err_msg=f'{lr} {key}')

  # Report and merge read the gs:// workdir directly.
  assert report.main([workdir, '--out', str(tmp_path / 'report')]) == 0
  assert (tmp_path / 'report' / 'REPORT.md').exists()
  merged = gcs.new_dir('merged')
  assert merge.main(['--out', merged, workdir]) == 0
  assert sorted(storage.read_text(storage.join(merged, 'results.jsonl')).splitlines()) == \
      sorted(open(fetched / 'results.jsonl').read().splitlines())
  assert storage.listdir(storage.join(merged, 'metrics')) == sorted(
      os.listdir(fetched / 'metrics'))

  launch_ok(capfd, 'tpu', 'delete', *flags, '--', f'--workdir={workdir}')
  assert not (pod / 'pod').exists() and storage.exists(storage.join(workdir,
                                                                    'results.jsonl'))
  assert launch.main(['tpu', 'status', *flags]) == 1
  assert 'no such TPU VM' in capfd.readouterr().out
