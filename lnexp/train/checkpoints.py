"""Orbax checkpoints of a group: save with a disk check, restore the newest one
that restores (a damaged newer one is reported and deleted)."""
from __future__ import annotations

import contextlib
import errno
import gc
import os
import shutil
import sys
import tempfile
import time
import traceback

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

from lnexp.errors import ConfigError
from lnexp.runtime import storage


def manager(path: str, keep: int) -> ocp.CheckpointManager:
  return ocp.CheckpointManager(path, options=ocp.CheckpointManagerOptions(
      max_to_keep=keep, create=True))


def save(manager, step: int, state, host: dict) -> None:
  """Saves the lane state and the host-side record (JSON) at `step`."""
  _check_space(str(manager.directory), state)
  manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                             host=ocp.args.JsonSave(host)))


def _check_space(directory: str, state) -> None:
  """OSError(ENOSPC) before a save the disk cannot hold: orbax writes in
  background threads, and a full disk there is dozens of tracebacks."""
  if storage.is_remote(directory):
    return
  need = sum(x.nbytes for x in jax.tree.leaves(state)) * 1.05 + 2**18  # + metadata
  free = shutil.disk_usage(directory).free
  if free < need:
    raise OSError(errno.ENOSPC, f'No space left on device ({free / 2**20:.2f} MiB free, '
                  f'a checkpoint needs ~{need / 2**20:.2f} MiB)', directory)


def disk_full(e: BaseException) -> bool:
  """Whether orbax failed on a full disk (it re-raises its writers' errors as
  ValueError: RESOURCE_EXHAUSTED ... No space left on device)."""
  return isinstance(e, Exception) and not isinstance(e, OSError) and (
      'No space left on device' in str(e) or 'RESOURCE_EXHAUSTED: Error writing' in str(e))


def _everywhere(ok: bool) -> bool:
  """True if `ok` on every process (one collective in a multi-host run)."""
  if jax.process_count() == 1:
    return ok
  return bool(np.all(multihost_utils.process_allgather(np.int32(ok))))


@contextlib.contextmanager
def _stderr_to(path: str):
  """Sends file descriptor 2 (every thread's, and C++'s, stderr) to `path`."""
  sys.stderr.flush()
  saved = os.dup(2)
  with open(path, 'w') as f:
    os.dup2(f.fileno(), 2)
  try:
    yield
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)


def _unraisables_to(log: str, package: str) -> None:
  """From now on, exceptions Python cannot raise ('Exception ignored in: ...')
  that come from `package`'s code go to `log`, others to the previous hook."""
  previous = sys.unraisablehook
  marker = f'{os.sep}{package}{os.sep}'

  def hook(unraisable):
    frames = traceback.walk_tb(unraisable.exc_traceback)
    if any(marker in frame.f_code.co_filename for frame, _ in frames):
      with open(log, 'a') as f:
        traceback.print_exception(unraisable.exc_value, file=f)
      return
    previous(unraisable)
  sys.unraisablehook = hook


def _try_restore(manager, step: int, abstract_state, log: str):
  """(restored, None) or (None, reason). A failed restore's noise from orbax's
  threads (hundreds of lines) goes to `log`; after a success it is replayed."""
  restored = reason = None
  with _stderr_to(log):
    try:
      restored = manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(abstract_state), host=ocp.args.JsonRestore()))
    except Exception as e:  # orbax raises what its storage layer raised
      if storage.is_remote(str(manager.directory)) and storage.failed(e):
        raise  # the server's failure, not the checkpoint's: Workdir.bounded stops the run
      message = ' '.join(str(e).split())
      reason = f'{type(e).__name__}: {message[:160]}' + ('...' if len(message) > 160 else '')
      _unraisables_to(log, 'orbax')
      gc.collect()  # the abandoned reads' coroutines report now
      time.sleep(0.2)
  with open(log) as f:
    text = f.read()
  if reason is None or not text:
    os.remove(log)
    sys.stderr.write(text)
  return restored, reason


def restore_latest(manager, abstract_state, out=None):
  """(step, state, host) of the newest checkpoint that restores; None if none.

  One that fails is reported in one line (orbax's output in a restore-*.log)
  and deleted; every process agrees on each outcome. ConfigError if none restores.
  """
  out = out or sys.stderr
  steps = sorted(manager.all_steps(), reverse=True)
  for i, step in enumerate(steps):
    directory = str(manager.directory)  # the log stays local (a gs:// one in /tmp)
    log = os.path.join(tempfile.gettempdir() if storage.is_remote(directory) else directory,
                       f'restore-{os.path.basename(directory)}-{step}'
                       f'.p{jax.process_index()}.log')
    restored, reason = _try_restore(manager, step, abstract_state, log)
    if _everywhere(reason is None):
      for bad in steps[:i]:
        manager.delete(bad)
      return step, restored['state'], restored['host']
    if jax.process_index() == 0:
      then = f'falling back to step {steps[i + 1]}' if i + 1 < len(steps) else ''
      details = f'; details in {log}' if os.path.exists(log) else ''
      print(f'lnexp.run: checkpoint {manager.directory}/{step} does not restore '
            f'({reason or "on another process"}{details}); {then or "none left"}',
            file=out, flush=True)
  if steps:
    raise ConfigError(f'no checkpoint in {manager.directory} restores (steps '
                      f'{", ".join(map(str, steps))}); if the run that wrote them had other '
                      'devices (--host_devices, hosts, GPUs), rerun with those, else move '
                      'that directory away to train the group from the start')
  return None
