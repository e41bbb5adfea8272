"""Runs `lnexp.run` units as single-threaded processes, one per core, on one host.

Small models use extra XLA CPU threads poorly (their matmuls are small, and
compiles and host work are serial): single-threaded processes pinned one per
core run more claims-size steps per second than one multi-threaded process,
and more than unpinned ones, whose XLA threads migrate between cores
(`python -m lnexp.bench --sections processes`; docs/performance.md).
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
RUN = (sys.executable, '-m', 'lnexp.run')


def usable_cores() -> list[int]:
  return sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else []


def pin_to_core(pid: int, index: int) -> None:
  """Pins process `pid` to usable core `index` (mod their count) where the OS
  allows. Called right after the spawn: the child's XLA threads, started later
  by its main thread, inherit the pin. (Not a `preexec_fn`: forking a
  multithreaded JAX process to run Python in the child can deadlock.)"""
  cores = usable_cores()
  try:
    if cores:
      os.sched_setaffinity(pid, {cores[index % len(cores)]})
  except OSError:  # a restricted cpuset, or the child already exited
    pass


def single_thread_env() -> dict[str, str]:
  return {**os.environ, 'XLA_FLAGS':
          f"{os.environ.get('XLA_FLAGS', '')} {SINGLE_THREAD_XLA}".strip()}


def shard_units(run_args: list[str], jobs: int, label: str = '') -> list[tuple[str, list[str]]]:
  """(label, lnexp.run args) of each of `jobs` shards of one sweep."""
  return [(f'{label}{i}/{jobs}', [*run_args, '--shard', f'{i}/{jobs}'])
          for i in range(jobs)]


def run_pool(units: list[tuple[str, list[str]]], jobs: int, stream,
             command: tuple[str, ...] = RUN) -> None:
  """Runs `COMMAND ARGS` for every (label, ARGS) unit, in order, on `jobs`
  workers, copying lines to `stream` prefixed `[label]`. Worker w's processes
  are pinned to core w when there are no more workers than cores. A failed
  unit does not stop the others; afterwards a RuntimeError names every failed
  unit with the last lines of the first. Ctrl-C stops every unit."""
  todo: queue.SimpleQueue = queue.SimpleQueue()
  for unit in units:
    todo.put(unit)
  pin = jobs <= len(usable_cores())
  failures: list[tuple[str, str]] = []
  running: dict[int, subprocess.Popen] = {}
  stop = threading.Event()

  def say(label: str, line: str) -> None:
    text = line.rstrip('\n')
    stream.write(f'[{label}] {text}\n')  # one write: threads' lines stay whole
    stream.flush()

  def run_unit(slot: int, label: str, args: list[str]) -> None:
    t0, tail = time.time(), []
    proc = subprocess.Popen([*command, *args], env=single_thread_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors='replace')
    running[slot] = proc
    try:
      if pin:
        pin_to_core(proc.pid, slot)
      for line in proc.stdout:
        tail = (tail + [line])[-20:]
        say(label, line)
    except BaseException:
      proc.kill()
      raise
    finally:
      proc.wait()
      running.pop(slot, None)
    if proc.returncode:
      failures.append((label, f'exited {proc.returncode}:\n' + ''.join(tail)))
    say(label, f'{"failed" if proc.returncode else "finished"} in '
               f'{(time.time() - t0) / 60:.1f} min')

  def worker(slot: int) -> None:
    while not stop.is_set():
      try:
        label, args = todo.get_nowait()
      except queue.Empty:
        return
      try:
        run_unit(slot, label, args)
      except Exception as e:  # pylint: disable=broad-except
        failures.append((label, f'could not run: {e!r}'))

  threads = [threading.Thread(target=worker, args=(slot,), daemon=True)
             for slot in range(jobs)]
  for t in threads:
    t.start()
  try:
    for t in threads:
      t.join()
  except BaseException:
    stop.set()
    for proc in list(running.values()):
      proc.kill()
    raise
  if failures:
    label, detail = failures[0]
    raise RuntimeError(f'{len(failures)} of {len(units)} units failed '
                       f'({", ".join(f[0] for f in failures)}); {label} {detail}')
