"""Keep XLA CPU's per-step temporaries in the process instead of refaulting them.

XLA CPU allocates a step's temporaries in one large block and frees it when
the step ends. glibc serves blocks that large with a fresh mapping and unmaps
it on free, so every step faults its memory in again, 4 KB at a time, and the
kernel zeroes it again.
- `glibc.malloc.hugetlb=1`: malloc asks for transparent huge pages (used where
  /sys/kernel/mm/transparent_hugepage/enabled is `madvise` or `always`).
- `glibc.malloc.mmap_max=0` and a huge `trim_threshold`: the main thread's
  malloc grows its heap instead of mapping, and keeps it. Other threads'
  arenas still map large blocks, so on CPU jax then executes on the calling
  thread (`jax_cpu_enable_async_dispatch=False`). The training loop makes the
  next batch on a thread, so the step still overlaps host work.
glibc reads tunables only at process start, so a command-line entry point
re-executes itself once with them set, and only where JAX will run on the
CPU (no accelerator plugin installed, or JAX_PLATFORMS=cpu) on glibc Linux.
`LNEXP_HOST_MEMORY=0` turns it off. The re-executed process's children get
the tunables only through lnexp's own entry points (the variable is removed
from the environment after start-up, so a notebook kernel or any other child
starts with the user's own environment). Measurements: docs/performance.md.
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
  """Call first in `module`'s __main__. On a CPU backend on glibc Linux, unless
  LNEXP_HOST_MEMORY=0, re-executes the process with TUNABLES if it was started
  as `python ... -m module` (never a notebook kernel running the module); the
  re-executed process restores the user's GLIBC_TUNABLES for its children and
  runs CPU programs on the calling thread (`use_calling_thread`)."""
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
  """Where TUNABLES are set, jax runs CPU programs on the calling thread
  (main-arena memory, kept between steps). Call before jax starts."""
  if tunables_set():
    _calling_thread()
