"""lnexp: normalization experiments on an ALBERT-style shared-parameter GPT.

Kept import-light: heavy modules (tfds, orbax) load only when used.
"""
from lnexp.runtime import interrupts as _interrupts


def load(workdir: str, point_id: str):
  """Returns (config, params) of a trained point, for notebooks."""
  from lnexp.runtime.workdir import load_point
  return load_point(workdir, point_id)


# `python -m lnexp.ENTRY` (not a notebook or a test): Ctrl-C while the entry
# point starts is one line and exit 130.
if _interrupts.prog().startswith('lnexp.'):
  _interrupts.install()
