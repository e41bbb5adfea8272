"""Runs `lnexp.run` units as single-threaded processes, one per core, on one host.

Small models use extra XLA CPU threads poorly (their matmuls are small, and
compiles and host work are serial). On the 2-core machine two single-threaded
processes pinned to one core each run 1.4-1.7x the claims-size steps per second
of one two-threaded process; unpinned, their four XLA threads migrate over the
two cores and gain only 1.0-1.3x (`python -m lnexp.bench --sections processes`).
Units of one sweep (`--shard i/N`) share its workdir: result rows are appended
whole, metrics and checkpoints are per point/group.
"""
from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time

SINGLE_THREAD_XLA = '--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1'


def pin_to_core(pid: int, index: int) -> None:
  """Pins process `pid` to one core (index mod this process's cores), where the
  OS allows; done right after the spawn, before the child's XLA threads exist
  (they inherit it). Not a `preexec_fn`: forking a multithreaded JAX process
  to run Python in the child can deadlock."""
  if hasattr(os, 'sched_setaffinity'):
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(pid, {cores[index % len(cores)]})


def single_thread_env() -> dict[str, str]:
  return {**os.environ, 'XLA_FLAGS':
          f"{os.environ.get('XLA_FLAGS', '')} {SINGLE_THREAD_XLA}".strip()}


def shard_units(run_args: list[str], jobs: int, label: str = '') -> list[tuple[str, list[str]]]:
  """(label, lnexp.run args) of each of `jobs` shards of one sweep."""
  return [(f'{label}{i}/{jobs}', [*run_args, '--shard', f'{i}/{jobs}'])
          for i in range(jobs)]


def run_pool(units: list[tuple[str, list[str]]], jobs: int, stream) -> None:
  """Runs `python -m lnexp.run ARGS` for every (label, ARGS) unit, in order, on
  `jobs` workers (worker w's processes pinned to core w), copying their lines
  to `stream` prefixed `[label]`. A failed unit does not stop the others;
  afterwards the first failure raises with its last lines."""
  todo: queue.SimpleQueue = queue.SimpleQueue()
  for unit in units:
    todo.put(unit)
  failures = []

  def worker(slot: int):
    while True:
      try:
        label, args = todo.get_nowait()
      except queue.Empty:
        return
      t0, tail = time.time(), []
      proc = subprocess.Popen([sys.executable, '-m', 'lnexp.run', *args],
                              env=single_thread_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
      pin_to_core(proc.pid, slot)
      for line in proc.stdout:
        tail = (tail + [line])[-20:]
        print(f'[{label}] {line}', end='', file=stream, flush=True)
      if proc.wait() != 0:
        failures.append(f'lnexp.run {label} exited {proc.returncode}:\n' + ''.join(tail))
      print(f'[{label}] finished in {(time.time() - t0) / 60:.1f} min', file=stream,
            flush=True)

  threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(jobs)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  if failures:
    raise RuntimeError(failures[0])
