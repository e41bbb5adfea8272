"""Single-threaded worker processes: core pinning and the unit pool."""
import io
import subprocess
import sys

import pytest

from lnexp.runtime import processes

CORES = processes.usable_cores()
# A unit that reports its core affinity and XLA flags instead of training
# (after a pause: the pin lands right after the spawn).
REPORT = (sys.executable, '-c', 'import os, time; time.sleep(0.5); '
          'print(sorted(os.sched_getaffinity(0)), os.environ["XLA_FLAGS"])')


@pytest.mark.skipif(len(CORES) < 2, reason='pinning is only visible with 2+ cores')
def test_pin_to_core_gives_a_child_exactly_one_core():
  code = 'import os, time; time.sleep(1); print(sorted(os.sched_getaffinity(0)))'
  proc = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
  processes.pin_to_core(proc.pid, len(CORES) + 1)
  assert proc.communicate(timeout=60)[0].strip() == str([CORES[1 % len(CORES)]])


@pytest.mark.skipif(len(CORES) < 2, reason='pinning is only visible with 2+ cores')
def test_pool_pins_each_worker_to_its_own_core_single_threaded():
  log = io.StringIO()
  processes.run_pool([(f'u{i}', []) for i in range(4)], 2, log, command=REPORT)
  lines = [l for l in log.getvalue().splitlines() if '[' in l.split('] ', 1)[1]]
  assert len(lines) == 4
  for line in lines:
    assert processes.SINGLE_THREAD_XLA in line
    assert any(line.split('] ', 1)[1].startswith(str([c])) for c in CORES[:2]), line
  for i in range(4):
    assert f'[u{i}] finished in' in log.getvalue()


def test_pool_runs_every_unit_and_names_every_failure(tmp_path):
  units = [(f'u{i}', ['--config', str(tmp_path / f'missing{i}.py')]) for i in range(3)]
  log = io.StringIO()
  with pytest.raises(RuntimeError, match=r'3 of 3 units failed \(u\d, u\d, u\d\); u\d exited 2'):
    processes.run_pool(units, 2, log)
  for i in range(3):  # a failure does not stop the other units
    assert f'[u{i}] lnexp.run: error:' in log.getvalue()
    assert f'missing{i}.py' in log.getvalue()
    assert f'[u{i}] failed in' in log.getvalue()


def test_shard_units_cover_every_shard_once():
  units = processes.shard_units(['--config', 'c.py'], 3, 'exp ')
  assert units == [(f'exp {i}/3', ['--config', 'c.py', '--shard', f'{i}/3']) for i in range(3)]
