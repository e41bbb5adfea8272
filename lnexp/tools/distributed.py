"""Multi-host runs on JAX's own engine: `jax.distributed` and a global device mesh.

On TPU VMs and SLURM, `jax.distributed.initialize()` finds the other hosts
itself; elsewhere pass the coordinator address, process count and id. Lanes
are then sharded over every host's devices (each host holds only its lanes),
process 0 writes results, and orbax writes checkpoints collectively.
"""
from __future__ import annotations

import socket
import time

from lnexp.errors import ConfigError


def wait_for_coordinator(address: str, timeout_s: float) -> None:
  """Polls until `address` accepts TCP connections; ConfigError after timeout_s.

  jax's client aborts the whole process (no Python exception) when it cannot
  register in time, so non-coordinator processes check reachability first.
  """
  host, _, port = address.rpartition(':')
  if not host or not port.isdigit():
    raise ConfigError(f'--coordinator={address}: expected HOST:PORT')
  deadline = time.monotonic() + timeout_s
  while True:
    try:
      socket.create_connection((host, int(port)), timeout=1).close()
      return
    except OSError as e:
      if time.monotonic() > deadline:
        raise ConfigError(f'coordinator {address} unreachable after {timeout_s}s '
                          f'({e.strerror or e}); start process 0 first or fix '
                          '--coordinator') from None
      time.sleep(0.2)


def initialize(coordinator: str | None, num_processes: int | None,
               process_id: int | None, timeout_s: int = 60) -> None:
  """Joins the job, failing within `timeout_s` (never hanging) if it cannot."""
  import jax
  if coordinator is not None and process_id:
    wait_for_coordinator(coordinator, timeout_s)
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')  # CPU hosts only
  try:
    jax.distributed.initialize(coordinator_address=coordinator,
                               num_processes=num_processes, process_id=process_id,
                               initialization_timeout=timeout_s)
  except Exception as e:  # jax raises RuntimeError/ValueError/XlaRuntimeError here
    reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
    raise ConfigError(f'could not join the multi-host job (coordinator {coordinator}, '
                      f'{timeout_s}s timeout): {reason}') from None
