"""Multi-host runs on JAX's own engine: `jax.distributed` and a global device mesh.

TPU VMs find their hosts themselves; under SLURM `slurm_params` reads the job's
environment as jax does, so the coordinator checks apply there too; elsewhere
pass the coordinator, process count and id (docs/scaling.md).
"""
from __future__ import annotations

import errno
import os
import socket
import time

from lnexp.errors import ConfigError

# An HTTP/2 preface and empty SETTINGS frame; a gRPC server answers with SETTINGS.
HTTP2_PREFACE = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
SETTINGS = 4
SLURM_VARS = ('SLURM_JOB_ID', 'SLURM_STEP_NODELIST', 'SLURM_NTASKS', 'SLURM_PROCID',
              'SLURM_LOCALID')  # what jax's SLURM detection requires


def _split(address: str) -> tuple[str, int]:
  host, _, port = address.rpartition(':')
  if not host or not port.isdigit() or not 0 < int(port) < 65536:
    raise ConfigError(f'--coordinator={address}: expected HOST:PORT')
  return host.strip('[]'), int(port)


def speaks_grpc(conn: socket.socket, timeout_s: float) -> bool:
  """Whether the peer answers an HTTP/2 preface with a SETTINGS frame."""
  conn.settimeout(max(timeout_s, 0.1))
  try:
    conn.sendall(HTTP2_PREFACE)
    header = b''
    while len(header) < 9:
      chunk = conn.recv(9 - len(header))
      if not chunk:
        return False
      header += chunk
  except OSError:
    return False
  return header[3] == SETTINGS and header[5:9] == bytes(4)


def wait_for_coordinator(address: str, timeout_s: float) -> None:
  """Polls until `address` answers like a JAX coordinator (gRPC); ConfigError
  after timeout_s. jax's own client would abort the process (SIGABRT) instead."""
  host, port = _split(address)
  deadline = time.monotonic() + timeout_s
  while True:
    try:
      with socket.create_connection((host, port), timeout=1) as conn:
        if speaks_grpc(conn, min(5.0, deadline - time.monotonic())):
          return
        problem = 'it answers, but not as a JAX coordinator (no gRPC handshake)'
    except OSError as e:
      problem = f'unreachable ({e.strerror or e})'
    if time.monotonic() > deadline:
      raise ConfigError(f'coordinator {address}: {problem} after {timeout_s}s; start '
                        'process 0 first or fix --coordinator') from None
    time.sleep(0.2)


def check_port_free(address: str) -> None:
  """ConfigError if PORT is taken: another listener would crash process 0's
  coordinator (SIGSEGV in gRPC)."""
  _, port = _split(address)
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
    try:
      s.bind(('', port))
    except OSError as e:
      if e.errno == errno.EADDRINUSE:
        raise ConfigError(f'--coordinator={address}: port {port} is in use on this host '
                          '(process 0 serves the coordinator there); pick a free port'
                          ) from None


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
  elif coordinator is not None and process_id == 0:
    check_port_free(coordinator)
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')  # CPU hosts only
  try:
    jax.distributed.initialize(coordinator_address=coordinator,
                               num_processes=num_processes, process_id=process_id,
                               initialization_timeout=timeout_s)
  except Exception as e:  # jax raises RuntimeError/ValueError/XlaRuntimeError here
    reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
    raise ConfigError(f'could not join the multi-host job (coordinator {coordinator}, '
                      f'{timeout_s}s timeout): {reason}') from None
