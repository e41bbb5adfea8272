"""Ctrl-C for the command line: one line, exit 130, and never lost.

Python's default SIGINT handler raises KeyboardInterrupt wherever the main
thread is. Three places make that noisy or silent: an import in progress
(a traceback through importlib), a gc callback (jax registers one: Python
prints "Exception ignored" and goes on) and orbax's checkpoint code (its
`wait_until_finished` logs the exception with a traceback, swallows it and
forgets that checkpoint). `handler` exits at once with one line in the
first case; in the others it only remembers the interrupt, which the
training loop raises at its next step (`check`). Elsewhere it raises
KeyboardInterrupt as usual.
"""
from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading

pending = threading.Event()
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


def _prog() -> str:
  argv = getattr(sys, 'orig_argv', [])
  return argv[argv.index('-m') + 1] if '-m' in argv[:-1] else 'lnexp'


def handler(signum, frame) -> None:
  where = _where(frame)
  if where == 'import':  # the entry point is starting: nothing to clean up
    sys.stdout.flush()
    print(f'{_prog()}: interrupted; rerun the same command to resume', file=sys.stderr,
          flush=True)
    os._exit(130)
  if where == 'defer':  # raised here, it would be printed and dropped
    pending.set()
    return
  raise KeyboardInterrupt


def install() -> None:
  if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, handler)


@contextlib.contextmanager
def installed():
  """`handler` for SIGINT inside the block (main thread only), then the previous one."""
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  pending.clear()
  previous = signal.signal(signal.SIGINT, handler)
  try:
    yield
  finally:
    signal.signal(signal.SIGINT, previous)


def check() -> None:
  """Raises KeyboardInterrupt if an interrupt arrived where it could not."""
  if pending.is_set():
    pending.clear()
    raise KeyboardInterrupt
