"""Keeping other libraries' noise off the terminal: file descriptor 2 to a file,
and exceptions Python cannot raise ('Exception ignored in: ...') to a log."""
from __future__ import annotations

import contextlib
import os
import sys
import traceback


@contextlib.contextmanager
def to_file(path: str):
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


def unraisables_to(log: str, package: str) -> None:
  """From now on, exceptions Python cannot raise that come from `package`'s
  code go to `log`, others to the previous hook."""
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
