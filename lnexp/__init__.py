"""lnexp: normalization experiments on an ALBERT-style shared-parameter GPT.

Kept import-light: heavy modules (tfds, orbax) load only when used.
"""
import sys as _sys


def load(workdir: str, point_id: str):
  """Returns (config, params) of a trained point, for notebooks."""
  from lnexp.runtime.workdir import load_point
  return load_point(workdir, point_id)


def _entry_point() -> bool:
  """Whether this process is `python -m lnexp.ENTRY` (not a notebook or a test)."""
  argv = getattr(_sys, 'orig_argv', [])
  return '-m' in argv[:-1] and argv[argv.index('-m') + 1].startswith('lnexp.')


if _entry_point():  # Ctrl-C while the entry point starts: one line, exit 130
  from lnexp.runtime import interrupts as _interrupts
  _interrupts.install()
