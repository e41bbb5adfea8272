"""Ctrl-C and SIGTERM for the command line: one line, exit 130 or 143, never lost.

Python's default SIGINT handler raises KeyboardInterrupt wherever the main
thread is. Three places make that noisy or silent: an import in progress
(a traceback through importlib), a gc callback (jax registers one: Python
prints "Exception ignored" and goes on) and orbax's checkpoint code (its
`wait_until_finished` logs the exception with a traceback, swallows it and
forgets that checkpoint). `handler` exits at once with one line in the
first case; in the others it only remembers the interrupt, which the
training loop raises at its next step (`check`). Elsewhere it raises
KeyboardInterrupt as usual.

SIGTERM (spot preemption, SLURM, Kubernetes) is handled the same way, except
that inside the training loop it is always deferred: the loop finishes its
step, writes a checkpoint and stops (`Terminated`, exit 143).
"""
from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading

pending = threading.Event()
terminating = threading.Event()
in_loop = threading.Event()  # set by the training loop while it runs steps


class Terminated(KeyboardInterrupt):
  """SIGTERM: the process stops with exit code 143 (128 + SIGTERM)."""
  exit_code = 143

  def __init__(self, message: str = 'terminated'):
    super().__init__(message)
_ORBAX = f'{os.sep}orbax{os.sep}'


def _where(frame) -> str | None:
  """'import', 'defer' or None for the code a signal interrupted."""
  gc_codes = {getattr(cb, '__code__', None) for cb in gc.callbacks}
  while frame is not None:
    name = frame.f_code.co_filename
    if name.startswith('<frozen importlib'):
      return 'import'
    if frame.f_code in gc_codes or _ORBAX in name:
      return 'defer'
    frame = frame.f_back
  return None


def prog() -> str:
  """The module run as `python -m MODULE`, else 'lnexp'."""
  argv = getattr(sys, 'orig_argv', [])
  return argv[argv.index('-m') + 1] if '-m' in argv[:-1] else 'lnexp'


def handler(signum, frame) -> None:
  where = _where(frame)
  if where == 'import':  # the entry point is starting: nothing to clean up
    sys.stdout.flush()
    print(f'{prog()}: interrupted; rerun the same command to resume', file=sys.stderr,
          flush=True)
    os._exit(130)
  if where == 'defer':  # raised here, it would be printed and dropped
    pending.set()
    return
  raise KeyboardInterrupt


def term_handler(signum, frame) -> None:
  where = _where(frame)
  if where == 'import':
    sys.stdout.flush()
    print(f'{prog()}: terminated; rerun the same command to resume', file=sys.stderr,
          flush=True)
    os._exit(Terminated.exit_code)
  terminating.set()
  if where != 'defer' and not in_loop.is_set():
    raise Terminated


HANDLERS = {signal.SIGINT: handler, signal.SIGTERM: term_handler}


def install() -> None:
  if threading.current_thread() is threading.main_thread():
    for signum, fn in HANDLERS.items():
      signal.signal(signum, fn)


@contextlib.contextmanager
def installed():
  """The handlers inside the block (main thread only), then the previous ones."""
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  pending.clear()
  terminating.clear()
  previous = {signum: signal.signal(signum, fn) for signum, fn in HANDLERS.items()}
  try:
    yield
  finally:
    for signum, fn in previous.items():
      signal.signal(signum, fn)


def check() -> None:
  """Raises Terminated or KeyboardInterrupt for a signal that was deferred."""
  if terminating.is_set():
    terminating.clear()
    raise Terminated
  if pending.is_set():
    pending.clear()
    raise KeyboardInterrupt
