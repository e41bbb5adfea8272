"""Two processes on loopback (jax.distributed, CPU collectives) equal one process."""
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np

from lnexp import run
from tests.test_run import HERE, TINY

FLAGS = ['--config', TINY, '--config.diagnostics.enabled=false']


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _rows(workdir):
  return {r['optim.lr']: r for r in map(json.loads, open(os.path.join(workdir,
                                                                      'results.jsonl')))}


def test_two_processes_equal_one_process(tmp_path):
  port = _free_port()
  env = {**os.environ, 'PYTHONPATH': os.path.dirname(HERE)}
  procs = [subprocess.Popen(
      [sys.executable, '-m', 'lnexp.run', *FLAGS, '--workdir', str(tmp_path / 'multi'),
       '--multihost', '--coordinator', f'127.0.0.1:{port}', '--num_processes', '2',
       '--process_id', str(i)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
      text=True) for i in range(2)]
  outputs = [p.communicate(timeout=240)[0] for p in procs]
  assert [p.returncode for p in procs] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
  assert run.main(FLAGS + ['--workdir', str(tmp_path / 'single')]) == 0
  multi, single = _rows(tmp_path / 'multi'), _rows(tmp_path / 'single')
  assert sorted(multi) == sorted(single)
  for lr, row in single.items():
    assert multi[lr]['status'] == row['status']
    if row['status'] == 'ok':
      np.testing.assert_allclose(multi[lr]['final_eval_loss'], row['final_eval_loss'],
                                 rtol=1e-4)
  assert 'workdir:' in outputs[0] and 'workdir:' not in outputs[1]  # process 0 reports


def test_unreachable_coordinator_fails_fast_with_one_line(tmp_path, capsys):
  t0 = time.monotonic()
  rc = run.main(FLAGS + ['--workdir', str(tmp_path / 'w'), '--multihost', '--coordinator',
                         f'127.0.0.1:{_free_port()}', '--num_processes', '2',
                         '--process_id', '1', '--init_timeout', '2'])
  err = capsys.readouterr().err
  assert rc == 2 and time.monotonic() - t0 < 20
  assert err.count('\n') == 1 and 'unreachable' in err
  assert not (tmp_path / 'w').exists()


def test_bad_multihost_flags_exit_2(tmp_path, capsys):
  assert run.main(FLAGS + ['--workdir', str(tmp_path / 'w'), '--multihost',
                           '--num_processes', 'two']) == 2
  assert '--num_processes=two' in capsys.readouterr().err
