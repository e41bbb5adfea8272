"""The workdir contract: config.json, meta.json, results.jsonl, metrics, checkpoints.

Results are append-only whole lines (a crash never leaves half a row); JSON
never holds NaN or Infinity (null instead). Checkpoints are orbax, per group.
"""
from __future__ import annotations

import datetime
import json
import math
import os
import platform
import subprocess
from importlib import metadata

import jax
import numpy as np

from lnexp import config as config_lib
from lnexp.errors import ConfigError

PACKAGES = ('jax', 'jaxlib', 'flax', 'optax', 'orbax-checkpoint', 'ml-collections',
            'numpy', 'tensorflow-datasets')


def clean(value):
  """JSON-safe: numpy scalars to Python, NaN/Inf to None, recursively."""
  if isinstance(value, dict):
    return {k: clean(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [clean(v) for v in value]
  if isinstance(value, (np.ndarray, jax.Array)):
    return clean(np.asarray(value).tolist())
  if isinstance(value, (np.floating, float)):
    value = float(value)
    return value if math.isfinite(value) else None
  if isinstance(value, np.integer):
    return int(value)
  return value


def dumps(row: dict) -> str:
  return json.dumps(clean(row), allow_nan=False, sort_keys=False)


def read_jsonl(path: str) -> list[dict]:
  """Rows of a JSON-lines file; a torn last line (crash mid-write) is skipped."""
  if not os.path.exists(path):
    return []
  rows = []
  with open(path) as f:
    for line in f:
      try:
        rows.append(json.loads(line))
      except json.JSONDecodeError:
        pass
  return rows


def append_jsonl(path: str, rows: list[dict]) -> None:
  if not rows:
    return
  with open(path, 'a') as f:
    f.write(''.join(dumps(r) + '\n' for r in rows))
    f.flush()
    os.fsync(f.fileno())


def _git_sha() -> str | None:
  try:
    return subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True,
                          cwd=os.path.dirname(__file__), timeout=5).stdout.strip() or None
  except (OSError, subprocess.SubprocessError):
    return None


class Workdir:
  """Paths and files of one run directory."""

  def __init__(self, path: str):
    self.path = os.path.abspath(path)
    self.results = os.path.join(self.path, 'results.jsonl')
    self.config_file = os.path.join(self.path, 'config.json')

  def metrics(self, point_id: str) -> str:
    return os.path.join(self.path, 'metrics', f'{point_id}.jsonl')

  def tensorboard(self, point_id: str) -> str:
    return os.path.join(self.path, 'tensorboard', point_id)

  def checkpoints(self, group_id: str) -> str:
    return os.path.join(self.path, 'checkpoints', group_id)

  def check_base(self, base: dict) -> dict | None:
    """Raises ConfigError if the workdir holds a different base config.

    A key lnexp gained after the run started counts at its default, so older
    workdirs (the committed claims results) still resume.
    """
    if not os.path.exists(self.config_file):
      return None
    with open(self.config_file) as f:
      saved = json.load(f)
    then = {**clean(config_lib.flatten(config_lib.base_config())), **saved['base']}
    now = clean(base)
    diff = sorted(k for k in set(then) | set(now) if then.get(k) != now.get(k))
    if diff:
      raise ConfigError(f'workdir {self.path} holds a run of a different base config '
                        f'(differs in {", ".join(diff[:5])}); use another --workdir')
    return saved

  def start(self, name: str, base: dict, sweep: list[dict]) -> None:
    """Writes config.json (sweep extended by new points) and meta.json."""
    saved = self.check_base(base)
    os.makedirs(os.path.join(self.path, 'metrics'), exist_ok=True)
    known = saved['sweep'] if saved else []
    sweep = known + [p for p in clean(sweep) if p not in known]
    self._write_json(self.config_file, {'name': name, 'base': base, 'sweep': sweep})
    self._write_json(os.path.join(self.path, 'meta.json'), {
        'git_sha': _git_sha(), 'python': platform.python_version(),
        'packages': {p: _version(p) for p in PACKAGES},
        'xla_flags': os.environ.get('XLA_FLAGS', ''),
        'devices': [str(d) for d in jax.devices()],
        'process_count': jax.process_count(),
        'start_time': datetime.datetime.now(datetime.timezone.utc).isoformat()})

  def _write_json(self, path: str, obj) -> None:
    tmp = f'{path}.{os.getpid()}.tmp'  # shards of one run may share the workdir
    with open(tmp, 'w') as f:
      json.dump(clean(obj), f, indent=1)
    os.replace(tmp, path)

  def finished(self) -> dict[str, dict]:
    return {r['point_id']: r for r in read_jsonl(self.results)}

  def keep_metrics_until(self, point_id: str, step: int) -> None:
    """Drops metric rows after `step` (written after the checkpoint we resume)."""
    path = self.metrics(point_id)
    rows = [r for r in read_jsonl(path) if r['step'] <= step]
    with open(path, 'w') as f:
      f.write(''.join(dumps(r) + '\n' for r in rows))


def _version(package: str) -> str | None:
  try:
    return metadata.version(package)
  except metadata.PackageNotFoundError:
    return None


def load_point(workdir: str, point_id: str):
  """(config, params) of a finished point: its lane sliced from the group checkpoint."""
  import orbax.checkpoint as ocp
  from lnexp import config as config_lib
  wd = Workdir(workdir)
  row = wd.finished().get(point_id)
  if row is None:
    raise ConfigError(f'no finished point {point_id!r} in {wd.results}')
  with open(wd.config_file) as f:
    saved = json.load(f)
  cfg = config_lib.apply_overrides(config_lib.base_config(), saved['base'])
  cfg = config_lib.apply_overrides(cfg, {k: v for k, v in row.items() if '.' in k})
  cfg.model.vocab_size = row['vocab_size']
  with ocp.CheckpointManager(wd.checkpoints(row['group'])) as manager:
    restored = manager.restore(manager.latest_step(), args=ocp.args.Composite(
        state=ocp.args.StandardRestore()))
  params = jax.tree.map(lambda x: np.asarray(x)[row['lane']], restored['state']['params'])
  return cfg, params
