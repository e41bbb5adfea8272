"""lnexp.host_memory: entry points re-run with huge pages; steps stop faulting."""
import os
import subprocess
import sys

import pytest

from lnexp import host_memory

HERE = os.path.dirname(os.path.abspath(__file__))
THP = '/sys/kernel/mm/transparent_hugepage/enabled'
THP_USABLE = os.path.exists(THP) and '[never]' not in open(THP).read()

# Minor page faults per call of a jitted function whose 64 MB intermediate
# XLA allocates and frees on every call (after warm-up calls), as a step's
# temporaries are; with `reexec`, the process (`python -m faults_probe`) first
# re-runs itself.
FAULTS = '''
import resource, sys
from lnexp import host_memory
if sys.argv[1] == 'reexec':
  host_memory.reexec_with_huge_pages('faults_probe')
import jax, jax.numpy as jnp
f = jax.jit(lambda a, b: jnp.cumsum(jnp.tanh(a @ b), axis=0)[-1])
a, b = jnp.ones((4096, 64)), jnp.ones((64, 4096))
for _ in range(6):
  f(a, b).block_until_ready()
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
  f(a, b).block_until_ready()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0) / 4)
'''


def _faults_per_call(probe_dir, mode: str, run=('-m', 'faults_probe')) -> float:
  # no GLIBC_TUNABLES, and no test XLA_FLAGS (unoptimised code runs this slowly)
  env = {k: v for k, v in os.environ.items() if k not in ('GLIBC_TUNABLES', 'XLA_FLAGS')}
  env['PYTHONPATH'] = os.pathsep.join([str(probe_dir), os.path.dirname(HERE)])
  out = subprocess.run([sys.executable, *run, mode], capture_output=True,
                       text=True, timeout=120, check=True, env=env).stdout
  return float(out.strip().splitlines()[-1])


@pytest.mark.skipif(not THP_USABLE, reason='transparent huge pages are off here')
def test_reexec_with_huge_pages_stops_refaulting_temporaries(tmp_path):
  (tmp_path / 'faults_probe.py').write_text(FAULTS)
  plain, huge = _faults_per_call(tmp_path, 'plain'), _faults_per_call(tmp_path, 'reexec')
  assert plain > 8000   # 64 MB / 4 KB pages, faulted in again on every call
  assert huge < plain / 20
  # not started as `-m faults_probe` (a notebook kernel running it): no re-exec
  not_main = _faults_per_call(tmp_path, 'reexec', run=(str(tmp_path / 'faults_probe.py'),))
  assert not_main > 8000


def test_tunable_is_added_once_and_others_kept():
  env = host_memory.with_huge_pages({'GLIBC_TUNABLES': 'glibc.malloc.arena_max=2'})
  assert env['GLIBC_TUNABLES'] == 'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1'
  assert host_memory.with_huge_pages(env) == env
  assert host_memory.with_huge_pages({})['GLIBC_TUNABLES'] == 'glibc.malloc.hugetlb=1'
