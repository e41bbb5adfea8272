"""Keep XLA CPU's per-step temporaries in the process instead of refaulting them.

Entry points re-execute themselves once with glibc malloc TUNABLES and run CPU
programs on the calling thread, whose heap keeps the step's block (why, when
and the measurements: docs/performance.md, "What lnexp does to the host").
"""
from __future__ import annotations

import importlib.util
import os
import platform
import sys

TUNABLES = ('glibc.malloc.hugetlb=1', 'glibc.malloc.mmap_max=0',
            'glibc.malloc.trim_threshold=4294967295')


def with_tunables(env: dict[str, str]) -> dict[str, str]:
  """`env` with TUNABLES added to GLIBC_TUNABLES (others kept, none twice)."""
  tunables = [t for t in env.get('GLIBC_TUNABLES', '').split(':') if t]
  tunables += [t for t in TUNABLES if t not in tunables]
  return {**env, 'GLIBC_TUNABLES': ':'.join(tunables)}


def tunables_set(env=os.environ) -> bool:
  return set(TUNABLES) <= set(env.get('GLIBC_TUNABLES', '').split(':'))


OPT_OUT = 'LNEXP_HOST_MEMORY'  # '0': leave malloc and dispatch as they are
_USER_TUNABLES = 'LNEXP_USER_GLIBC_TUNABLES'  # set only across the re-exec
ACCELERATOR_PLUGINS = ('jax_cuda12_plugin', 'jax_cuda13_plugin', 'libtpu',
                       'jax_rocm60_plugin', 'jax_rocm7_plugin')


_in_effect = None  # the GLIBC_TUNABLES this process started with, after a re-exec


def tunables_in_effect() -> str:
  """The GLIBC_TUNABLES glibc read at this process's start."""
  return _in_effect if _in_effect is not None else os.environ.get('GLIBC_TUNABLES', '')


def cpu_backend(env=os.environ) -> bool:
  """Whether JAX will run on the CPU, decided without starting JAX: the first of
  JAX_PLATFORMS, or else no accelerator plugin installed."""
  platforms = env.get('JAX_PLATFORMS', '')
  if platforms:
    return platforms.split(',')[0].strip() == 'cpu'
  return not any(importlib.util.find_spec(p) for p in ACCELERATOR_PLUGINS)


def keep_step_memory(module: str) -> None:
  """Call first in `module`'s __main__: re-executes `python -m module` with
  TUNABLES where docs/performance.md says; the re-executed process restores the
  user's GLIBC_TUNABLES for its children and `use_calling_thread`s."""
  if os.environ.get(OPT_OUT) == '0' or not cpu_backend():
    return
  if _USER_TUNABLES in os.environ:  # the re-executed process: tunables applied
    global _in_effect
    _in_effect = os.environ['GLIBC_TUNABLES']
    user = os.environ.pop(_USER_TUNABLES)
    if user:
      os.environ['GLIBC_TUNABLES'] = user
    else:
      os.environ.pop('GLIBC_TUNABLES', None)
    _calling_thread()
    return
  argv = sys.orig_argv
  started_as_module = module in argv and argv[argv.index(module) - 1] == '-m'
  if (started_as_module and not tunables_set() and sys.platform == 'linux'
      and platform.libc_ver()[0] == 'glibc'):
    sys.stdout.flush()
    sys.stderr.flush()
    env = with_tunables(dict(os.environ))
    env[_USER_TUNABLES] = os.environ.get('GLIBC_TUNABLES', '')
    os.execve(sys.executable, sys.orig_argv, env)
  use_calling_thread()


def _calling_thread() -> None:
  import jax
  jax.config.update('jax_cpu_enable_async_dispatch', False)


def use_calling_thread() -> None:
  """Where TUNABLES are set, run CPU programs on the calling thread (before jax starts)."""
  if tunables_set():
    _calling_thread()
