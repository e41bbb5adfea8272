"""lnexp.host_memory: entry points re-run with malloc tunables; steps stop faulting."""
import importlib.util
import os
import subprocess
import sys

import pytest

from lnexp.runtime import host_memory

HERE = os.path.dirname(os.path.abspath(__file__))
THP = '/sys/kernel/mm/transparent_hugepage/enabled'
THP_USABLE = os.path.exists(THP) and '[never]' not in open(THP).read()

# Minor page faults per call of a jitted function whose 64 MB intermediate
# XLA allocates and frees on every call (after warm-up calls), as a step's
# temporaries are; with `reexec`, the process (`python -m faults_probe`) first
# re-runs itself with the tunables and then executes on the calling thread.
FAULTS = '''
import os, resource, sys
from lnexp.runtime import host_memory
if sys.argv[1] == 'reexec':
  host_memory.keep_step_memory('faults_probe')
import jax, jax.numpy as jnp
f = jax.jit(lambda a, b: jnp.cumsum(jnp.tanh(a @ b), axis=0)[-1])
a, b = jnp.ones((4096, 64)), jnp.ones((64, 4096))
for _ in range(6):
  f(a, b).block_until_ready()
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
  f(a, b).block_until_ready()
print(repr(os.environ.get('GLIBC_TUNABLES')))
print(jax.config.read('jax_cpu_enable_async_dispatch'))
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0) / 4)
'''


def _probe(probe_dir, mode: str, run=('-m', 'faults_probe'), **extra_env):
  """(minor faults per call, whether jax dispatched CPU programs asynchronously,
  the GLIBC_TUNABLES the probe's children would inherit)."""
  # the user's own tunable only, and no test XLA_FLAGS (unoptimised code runs this slowly)
  env = {k: v for k, v in os.environ.items() if k not in ('GLIBC_TUNABLES', 'XLA_FLAGS')}
  env.update(GLIBC_TUNABLES='glibc.malloc.arena_max=4', **extra_env)
  env['PYTHONPATH'] = os.pathsep.join([str(probe_dir), os.path.dirname(HERE)])
  out = subprocess.run([sys.executable, *run, mode], capture_output=True,
                       text=True, timeout=120, check=True, env=env).stdout
  inherited, async_dispatch, faults = out.strip().splitlines()[-3:]
  return float(faults), async_dispatch == 'True', inherited


def _faults_per_call(probe_dir, mode: str, run=('-m', 'faults_probe'), **extra_env):
  return _probe(probe_dir, mode, run, **extra_env)[:2]


@pytest.mark.skipif(not THP_USABLE, reason='transparent huge pages are off here')
def test_keep_step_memory_stops_refaulting_temporaries(tmp_path):
  (tmp_path / 'faults_probe.py').write_text(FAULTS)
  plain, plain_async = _faults_per_call(tmp_path, 'plain')
  kept, kept_async = _faults_per_call(tmp_path, 'reexec')
  assert plain > 8000 and plain_async  # 64 MB / 4 KB pages, faulted in on every call
  assert kept < 100 and not kept_async  # main-arena heap, kept between calls
  # not started as `-m faults_probe` (a notebook kernel running it): no re-exec
  not_main, not_main_async = _faults_per_call(
      tmp_path, 'reexec', run=(str(tmp_path / 'faults_probe.py'),))
  assert not_main > 8000 and not_main_async


def test_children_inherit_the_users_tunables_and_opt_out_turns_it_off(tmp_path):
  (tmp_path / 'faults_probe.py').write_text(FAULTS)
  _, kept_async, inherited = _probe(tmp_path, 'reexec')
  assert not kept_async and inherited == repr('glibc.malloc.arena_max=4')
  _, opted_out_async, inherited = _probe(tmp_path, 'reexec', LNEXP_HOST_MEMORY='0')
  assert opted_out_async and inherited == repr('glibc.malloc.arena_max=4')


def test_only_cpu_backends_get_the_tunables():
  assert host_memory.cpu_backend({'JAX_PLATFORMS': 'cpu'})
  assert not host_memory.cpu_backend({'JAX_PLATFORMS': 'tpu'})
  assert not host_memory.cpu_backend({'JAX_PLATFORMS': 'cuda,cpu'})
  assert host_memory.cpu_backend({}) == (not any(
      importlib.util.find_spec(p) for p in host_memory.ACCELERATOR_PLUGINS))


def test_tunables_are_added_once_and_others_kept():
  env = host_memory.with_tunables({'GLIBC_TUNABLES': 'glibc.malloc.arena_max=2'})
  assert env['GLIBC_TUNABLES'] == ':'.join(('glibc.malloc.arena_max=2',) + host_memory.TUNABLES)
  assert host_memory.with_tunables(env) == env and host_memory.tunables_set(env)
  assert host_memory.with_tunables({})['GLIBC_TUNABLES'] == ':'.join(host_memory.TUNABLES)
  assert not host_memory.tunables_set({'GLIBC_TUNABLES': 'glibc.malloc.hugetlb=1'})
