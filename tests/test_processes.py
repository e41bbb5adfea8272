"""Single-threaded worker processes: core pinning and the unit pool."""
import io
import os
import subprocess
import sys

import pytest

from lnexp import processes


@pytest.mark.skipif(not hasattr(os, 'sched_setaffinity'), reason='Linux-only affinity')
def test_pin_to_core_gives_a_child_exactly_one_core():
  cores = sorted(os.sched_getaffinity(0))
  code = 'import os, time; time.sleep(1); print(sorted(os.sched_getaffinity(0)))'
  proc = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
  processes.pin_to_core(proc.pid, len(cores) + 1)
  assert proc.communicate()[0].strip() == str([cores[(len(cores) + 1) % len(cores)]])


def test_pool_runs_every_unit_and_raises_the_first_failure(tmp_path):
  units = [(f'u{i}', ['--config', str(tmp_path / f'missing{i}.py')]) for i in range(3)]
  log = io.StringIO()
  with pytest.raises(RuntimeError, match=r'lnexp.run u\d exited 2'):
    processes.run_pool(units, 2, log)
  for i in range(3):  # a failure does not stop the other units
    assert f'[u{i}] lnexp.run: error:' in log.getvalue()
    assert f'missing{i}.py' in log.getvalue()


def test_shard_units_cover_every_shard_once():
  units = processes.shard_units(['--config', 'c.py'], 3, 'exp ')
  assert units == [(f'exp {i}/3', ['--config', 'c.py', '--shard', f'{i}/3']) for i in range(3)]
