"""The workdir contract: config.json, meta.json, results.jsonl, metrics, checkpoints
(docs/data-and-workdir.md).

Rows are appended as whole lines (a torn line is skipped and reported),
rewritten files are replaced atomically, JSON holds null for NaN, and every
file goes through `lnexp.runtime.storage`.
"""
from __future__ import annotations

from collections.abc import Collection
import contextlib
import datetime
import errno
import functools
import json
import math
import os
import platform
import subprocess
import sys
import warnings
from importlib import metadata

import jax
import numpy as np
from absl import logging as absl_logging

from lnexp import config as config_lib
from lnexp.errors import ConfigError
from lnexp.runtime import storage

# Keys that change how a run behaves, not what it computes: a resume may change
# them (a new lane split restarts the points whose group changed).
RESUME_MAY_CHANGE = ('train.storage_timeout_s', 'train.max_lanes_per_program')
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


_warned: set[tuple[str, tuple[int, ...]]] = set()


def read_jsonl(path: str, required: tuple[str, ...] = ()) -> list[dict]:
  """Rows of a JSON-lines file ([] if there is none); lines that are not
  objects with the `required` keys are skipped, reported once on stderr."""
  if not storage.exists(path):
    return []
  rows, bad = [], []
  for number, line in enumerate(storage.read_text(path).splitlines(), 1):
    if not line.strip():
      continue
    try:
      row = json.loads(line)
    except json.JSONDecodeError:
      row = None
    if isinstance(row, dict) and all(k in row for k in required):
      rows.append(row)
    else:
      bad.append(number)
  if bad and (path, tuple(bad)) not in _warned:
    _warned.add((path, tuple(bad)))
    print(f'lnexp: warning: skipped unreadable line{"s" * (len(bad) > 1)} '
          f'{", ".join(map(str, bad[:5]))}{" ..." * (len(bad) > 5)} of {path} '
          '(torn by a crash, or not a result row)', file=sys.stderr)
  return rows


def append_jsonl(path: str, rows: list[dict]) -> None:
  """Appends rows as whole lines, starting on a fresh line (one write)."""
  storage.append_lines(path, [dumps(r) for r in rows])


WRITE_ERRNOS = {errno.EROFS: 'read-only', errno.EACCES: 'not writable',
                errno.EPERM: 'not writable', errno.ENOSPC: 'disk full',
                errno.EDQUOT: 'disk quota exceeded',
                errno.ENOTDIR: 'a part of the path is a file, not a folder'}


@contextlib.contextmanager
def write_errors(path: str):
  """Inside, an OSError of a workdir that cannot be written (`WRITE_ERRNOS`)
  becomes one ConfigError."""
  try:
    yield
  except OSError as e:
    if e.errno not in WRITE_ERRNOS:
      raise
    raise ConfigError(f'cannot write {e.filename or path}: {WRITE_ERRNOS[e.errno]} '
                      f'({e.strerror}); finished points and checkpoints are kept: fix it '
                      'and rerun the same command to resume') from None


def base_diff(then: dict, now: dict, moot: Collection[str] = ()) -> list[str]:
  """Flattened base-config keys whose values differ, `RESUME_MAY_CHANGE` and
  `moot` ones aside."""
  then, now = clean(then), clean(now)
  return sorted(k for k in set(then) | set(now)
                if k not in (*RESUME_MAY_CHANGE, *moot) and then.get(k) != now.get(k))


def _git_sha() -> str | None:
  try:
    return subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True,
                          cwd=os.path.dirname(__file__), timeout=5).stdout.strip() or None
  except (OSError, subprocess.SubprocessError):
    return None


def _bounded(what: str):
  """Decorates a `Workdir` method: its storage work is `Workdir.bounded(what)`."""
  def decorate(method):
    @functools.wraps(method)
    def bounded(self, *args, **kwargs):
      with self.bounded(what):
        return method(self, *args, **kwargs)
    return bounded
  return decorate


class Workdir:
  """Paths and files of one run directory."""

  def __init__(self, path: str, timeout_s: float | None = None):
    self.path = storage.normalize(path)  # absolute, or gs://BUCKET/PATH
    self.timeout_s = timeout_s or config_lib.base_config().train.storage_timeout_s
    self._staging = None
    if storage.is_remote(self.path):
      with self.bounded('looking up the bucket'):
        storage.check_bucket(self.path)
    self.results = os.path.join(self.path, 'results.jsonl')
    self.config_file = os.path.join(self.path, 'config.json')

  def bounded(self, what: str):
    """`storage.bounded` for this workdir: on gs://, a failure or hang exits 75."""
    return storage.bounded(self.path, what, self.timeout_s,
                           lambda: self._staging and self._staging.close())

  @property
  def staging(self) -> storage.Staging:
    """Where metrics and TensorBoard files are written (`storage.Staging`)."""
    if self._staging is None:
      self._staging = storage.Staging(self.path)
    return self._staging

  @_bounded('uploading metrics and TensorBoard files')
  def sync(self) -> None:
    """Uploads staged metrics and TensorBoard files (gs:// workdirs)."""
    if self._staging is not None:
      self._staging.upload()

  @_bounded('downloading metrics')
  def metrics(self, point_id: str) -> str:
    self.staging.pull(f'metrics/{point_id}.jsonl')  # gs://: a resume appends to it
    return self.staging.local('metrics', f'{point_id}.jsonl')

  @_bounded('downloading TensorBoard files')
  def tensorboard(self, run_name: str) -> str:
    """A point's TensorBoard run (`lnexp.runtime.tensorboard.run_name`)."""
    self.staging.pull(f'tensorboard/{run_name}')
    return self.staging.local('tensorboard', run_name)

  def checkpoints(self, group_id: str) -> str:
    return os.path.join(self.path, 'checkpoints', group_id)

  @_bounded('reading config.json')
  def check_base(self, base: dict, moot: Collection[str] = ()) -> dict | None:
    """ConfigError if the workdir holds a different base config; keys lnexp
    gained since count at their first default, `RESUME_MAY_CHANGE` and `moot`
    (unread by the model) ones may differ. The saved config, or None."""
    if storage.exists(self.path) and not storage.isdir(self.path):
      raise ConfigError(f'workdir {self.path} is a file, not a directory; use another '
                        '--workdir')
    saved = self.saved_config()
    if saved is None:
      return None
    diff = base_diff({**config_lib.flatten(config_lib.base_config()),
                      **config_lib.FIRST_DEFAULTS, **saved['base']}, base, moot)
    if diff:
      raise ConfigError(f'workdir {self.path} holds a run of a different base config '
                        f'(differs in {", ".join(diff[:5])}); use another --workdir')
    return saved

  @_bounded('reading config.json')
  def saved_config(self) -> dict | None:
    """config.json ({'name', 'base', 'sweep'}), None if absent; ConfigError if
    it is not one."""
    if not storage.exists(self.config_file):
      return None
    try:
      saved = json.loads(storage.read_text(self.config_file))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
      raise ConfigError(f'{self.config_file} is not valid JSON ({e}); restore it or use '
                        'another --workdir') from None
    if not (isinstance(saved, dict) and isinstance(saved.get('base'), dict)
            and isinstance(saved.get('sweep'), list)):
      raise ConfigError(f'{self.config_file} lacks "base" or "sweep" (not an lnexp '
                        'config.json); restore it or use another --workdir')
    return saved

  @_bounded('writing config.json and meta.json')
  def start(self, name: str, base: dict, sweep: list[dict], moot: Collection[str] = ()) -> None:
    """Writes config.json (sweep extended by new points) and meta.json."""
    saved = self.check_base(base, moot)
    storage.makedirs(self.staging.local('metrics'))
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
    storage.write_text(path, json.dumps(clean(obj), indent=1))  # whole, atomically

  @_bounded('reading results.jsonl')
  def finished(self) -> dict[str, dict]:
    """Result rows by point id; rows without `point_id` and `status` are skipped."""
    return {r['point_id']: r for r in read_jsonl(self.results, ('point_id', 'status'))}

  @_bounded('appending to results.jsonl')
  def append_results(self, rows: list[dict]) -> None:
    append_jsonl(self.results, rows)

  def reset_metrics(self, point_id: str) -> None:
    storage.write_text(self.metrics(point_id), '')

  def keep_metrics_until(self, point_id: str, step: int) -> None:
    """Drops metric rows after `step`, the checkpoint a resume starts from."""
    path = self.metrics(point_id)
    rows = [r for r in read_jsonl(path, ('step',)) if r['step'] <= step]
    storage.write_text(path, ''.join(dumps(r) + '\n' for r in rows))


def _version(package: str) -> str | None:
  try:
    return metadata.version(package)
  except metadata.PackageNotFoundError:
    return None


def load_config(workdir: str) -> dict:
  """A workdir's config.json ({'name', 'base', 'sweep'}); ConfigError if there
  is no such workdir or it is not an lnexp workdir."""
  if not storage.isdir(workdir):
    raise ConfigError(f'no such workdir: {workdir}')
  saved = Workdir(workdir).saved_config()
  if saved is None:
    raise ConfigError(f'{workdir} has no config.json (not an lnexp workdir)')
  return saved


def load_point(workdir: str, point_id: str):
  """(config, params) of a finished point, its lane of the group checkpoint;
  a diverged point warns that its parameters are from before it diverged."""
  import orbax.checkpoint as ocp
  saved = load_config(workdir)  # ConfigError naming a missing workdir or config.json
  wd = Workdir(workdir)
  row = wd.finished().get(point_id)
  if row is None:
    raise ConfigError(f'no finished point {point_id!r} in {wd.results}')
  directory = wd.checkpoints(row['group'])
  if not storage.isdir(directory):  # orbax would create an empty one
    raise ConfigError(f'no checkpoints of group {row["group"]} in {wd.path} (point '
                      f'{point_id} finished, but {directory} is gone)')
  cfg = config_lib.apply_overrides(config_lib.base_config(), saved['base'])
  cfg = config_lib.apply_overrides(cfg, {k: v for k, v in row.items() if '.' in k})
  cfg.model.vocab_size = row['vocab_size']
  verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.ERROR)  # orbax warns that read-only is read-only
  try:
    with ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(
        create=False, read_only=True)) as manager:
      restored = manager.restore(manager.latest_step(), args=ocp.args.Composite(
          state=ocp.args.StandardRestore()))
  finally:
    absl_logging.set_verbosity(verbosity)
  params = jax.tree.map(lambda x: np.asarray(x)[row['lane']], restored['state']['params'])
  if row['status'] == 'diverged':
    warnings.warn(f'point {point_id} diverged at step {row["diverged_step"]}: its '
                  'parameters are those it was frozen with, before that step', stacklevel=3)
  return cfg, params
