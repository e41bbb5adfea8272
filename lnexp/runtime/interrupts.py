"""Ctrl-C and SIGTERM for the command line: one line, exit 130 or 143, never lost.

During an import the handlers exit at once with one line. Inside a gc callback
(jax's) or orbax, where a KeyboardInterrupt would be printed and dropped, they
only record it, and the training loop raises it at its next step (`check`);
there SIGTERM is always deferred, so the loop checkpoints first.
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


def _exit(what: str, code: int) -> None:
  """At an import the entry point is starting: nothing to clean up."""
  sys.stdout.flush()
  print(f'{prog()}: {what}; rerun the same command to resume', file=sys.stderr, flush=True)
  os._exit(code)


def handler(signum, frame) -> None:
  where = _where(frame)
  if where == 'import':
    _exit('interrupted', 130)
  if where == 'defer':  # raised here, it would be printed and dropped
    pending.set()
    return
  raise KeyboardInterrupt


def term_handler(signum, frame) -> None:
  where = _where(frame)
  if where == 'import':
    _exit('terminated', Terminated.exit_code)
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
