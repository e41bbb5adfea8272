"""Runs `lnexp.run` units as single-threaded processes, one pinned per core.

For small models that beats one multi-threaded process, and unpinned ones
(docs/scaling.md; `python -m lnexp.bench --sections processes`).
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
  allows, right after the spawn so its XLA threads inherit it (a `preexec_fn`
  can deadlock a multithreaded JAX parent)."""
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
  """Runs `COMMAND ARGS` for every (label, ARGS) unit on `jobs` workers (pinned
  where cores suffice), lines to `stream` prefixed `[label]`. A failed unit
  stops no other; then a RuntimeError names them all, with the first's tail."""
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
