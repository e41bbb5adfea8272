"""One sweep as N single-threaded `lnexp.run --shard i/N` processes on one host.

Small models use extra XLA CPU threads poorly (their matmuls are small, and
compiles and host work are serial): on the 2-core machine two single-threaded
processes side by side run 1.25x the claims-size steps per second of one
two-threaded process (`python -m lnexp.bench --sections processes`) and the
whole claims suite 1.57x faster (114 -> 73 min). The shards share one workdir:
result rows are appended whole, metrics and checkpoints are per point/group.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading

SINGLE_THREAD_XLA = '--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1'


def single_thread_env() -> dict[str, str]:
  return {**os.environ, 'XLA_FLAGS':
          f"{os.environ.get('XLA_FLAGS', '')} {SINGLE_THREAD_XLA}".strip()}


def run_sharded(run_args: list[str], jobs: int, stream) -> None:
  """Runs `python -m lnexp.run RUN_ARGS --shard i/jobs` for every i at once,
  copying their lines to `stream` prefixed with `[i/jobs]`; raises with the
  last lines of any shard that fails."""
  procs = [subprocess.Popen([sys.executable, '-m', 'lnexp.run', *run_args,
                             '--shard', f'{i}/{jobs}'], env=single_thread_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
           for i in range(jobs)]
  tails = [[] for _ in procs]

  def copy(i):
    for line in procs[i].stdout:
      tails[i] = (tails[i] + [line])[-20:]
      print(f'[{i}/{jobs}] {line}', end='', file=stream, flush=True)
  threads = [threading.Thread(target=copy, args=(i,)) for i in range(jobs)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  for i, p in enumerate(procs):
    if p.wait() != 0:
      raise RuntimeError(f'lnexp.run shard {i}/{jobs} exited {p.returncode}:\n'
                         + ''.join(tails[i]))
