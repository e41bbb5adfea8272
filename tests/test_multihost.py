"""Two processes on loopback (jax.distributed, CPU collectives) equal one process."""
import os
import socket
import subprocess
import sys
import time

from lnexp import run
from tests.test_run import HERE, TINY, assert_same_results, rows_by_lr

FLAGS = ['--config', TINY, '--config.diagnostics.enabled=false']


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]



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
  assert_same_results(rows_by_lr(tmp_path / 'multi'), rows_by_lr(tmp_path / 'single'))
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
