"""Multi-host runs on JAX's own engine: `jax.distributed` and a global device mesh.

On TPU VMs `jax.distributed.initialize()` finds the other hosts itself. Under
SLURM (`srun`) the job's environment names them: `slurm_params` reads it as
jax does (first node of the step, a port from the job id or
$JAX_COORDINATOR_PORT), so the coordinator checks below apply there too; jax
still gives each task the GPU of its SLURM_LOCALID. Elsewhere pass the
coordinator address, process count and id. Lanes are then sharded over
every host's devices (each host holds only its lanes), process 0 writes
results, and orbax writes checkpoints collectively.
"""
from __future__ import annotations

import os
import socket
import time

from lnexp.errors import ConfigError

SLURM_VARS = ('SLURM_JOB_ID', 'SLURM_STEP_NODELIST', 'SLURM_NTASKS', 'SLURM_PROCID',
              'SLURM_LOCALID')  # what jax's SLURM detection requires


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


def slurm_params(env=None) -> tuple[str, int, int] | None:
  """(coordinator, process count, process id) of a SLURM job step, or None
  outside one: the values jax.distributed's SLURM detection picks."""
  env = os.environ if env is None else env
  if not all(k in env for k in SLURM_VARS):
    return None
  port = env.get('JAX_COORDINATOR_PORT') or str(int(env['SLURM_JOB_ID']) % 2**12 +
                                                (65535 - 2**12 + 1))
  nodes = env['SLURM_STEP_NODELIST']  # node001 | node001,x | node[001-004,007],x
  cut = next((i for i, c in enumerate(nodes) if c in ',['), len(nodes))
  first = nodes[:cut]
  if nodes[cut:cut + 1] == '[':
    inner = nodes[cut + 1:]
    first += inner[:next((i for i, c in enumerate(inner) if c in ',-]'), len(inner))]
  return f'{first}:{port}', int(env['SLURM_NTASKS']), int(env['SLURM_PROCID'])


def initialize(coordinator: str | None, num_processes: int | None,
               process_id: int | None, timeout_s: int = 60) -> None:
  """Joins the job, failing within `timeout_s` (never hanging) if it cannot."""
  import jax
  if coordinator is None and num_processes is None and process_id is None:
    coordinator, num_processes, process_id = slurm_params() or (None, None, None)
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
