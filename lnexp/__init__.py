"""lnexp: normalization experiments on an ALBERT-style shared-parameter GPT.

Kept import-light: heavy modules (tfds, orbax) load only when used.
"""


def load(workdir: str, point_id: str):
  """Returns (config, params) of a trained point, for notebooks."""
  from lnexp.engine.workdir import load_point
  return load_point(workdir, point_id)
