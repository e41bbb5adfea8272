"""Workdirs as pandas tables: the one loader notebooks, `lnexp.report` and the
claims analyses share, so every table starts from the same parsing (a torn
last line skipped, a point without a row missing, not guessed).
"""
from __future__ import annotations

import functools
import json
import os

import numpy as np
import pandas as pd

from lnexp.config import SEED_KEYS
from lnexp.runtime import storage
from lnexp.runtime.workdir import Workdir, load_config, read_jsonl

COMPACT_FILE = 'metrics.parquet'  # every point's metrics (lnexp.ops.compact)
COLUMNS_KEY = b'lnexp.columns'  # its schema metadata: {point_id: [column, ...]}

LR_KEY = 'optim.lr'
NUMERIC = ('lane', 'diverged_step', 'init_loss', 'final_train_loss', 'final_eval_loss',
           'best_eval_loss', 'final_eval_loss_batch_stats', 'batch1_loss_batch_stats',
           'batch1_loss_running', 'final_eval_accuracy', 'steps',
           'wall_s', 'entropy_floor', 'unigram_entropy', 'vocab_size', 'bayes_loss',
           'context_free_loss', 'perturb_amplification', 'perturb_kl')


def swept_keys(config: dict) -> list[str]:
  """Dotted keys any sweep point of a config.json overrides."""
  return sorted({k for point in config['sweep'] for k in point})


def load_results(workdirs: str | os.PathLike | list) -> pd.DataFrame:
  """One row per finished point of one or several workdirs: every swept key
  (and base key that differs between workdirs) a column, filled from the base
  config where a point did not set it; `workdir` the row's absolute path."""
  paths = [workdirs] if isinstance(workdirs, (str, os.PathLike)) else list(workdirs)
  configs = [(storage.normalize(p), load_config(p)) for p in paths]
  keys = set().union(*(swept_keys(c) for _, c in configs))
  if len(configs) > 1:
    bases = [c['base'] for _, c in configs]
    keys |= {k for k in set().union(*bases)
             if len({json.dumps(b.get(k)) for b in bases}) > 1}
  rows = []
  for path, config in configs:
    for row in Workdir(path).finished().values():
      rows.append({**{k: config['base'].get(k) for k in keys}, **row, 'workdir': path})
  head = ['point_id', *sorted(keys)]
  columns = head + sorted({k for r in rows for k in r} - set(head) - {'workdir'},
                          key=_field_order) + ['workdir']
  df = pd.DataFrame(rows, columns=columns)
  for key in NUMERIC:
    if key in df:
      df[key] = pd.to_numeric(df[key], errors='coerce')
  return df


def _field_order(key: str):
  """Result fields in the order `lnexp.train.rows` writes them, unknown ones last."""
  order = ('group', 'lane', 'status', 'diverged_step', 'diverged_reason', *NUMERIC[2:])
  return (order.index(key), key) if key in order else (len(order), key)


def load_metrics(workdir: str, point_id: str) -> pd.DataFrame:
  """A point's metrics, one row per logged step, from metrics/POINT_ID.jsonl
  or else the compacted metrics.parquet; `depth/...` values stay lists."""
  path = Workdir(workdir).metrics(point_id)
  compact = storage.join(storage.normalize(workdir), COMPACT_FILE)
  if storage.exists(path) or not storage.exists(compact):
    return metrics_frame(read_jsonl(path))
  return metrics_frame(*read_compact(compact, point_id))


def metrics_frame(rows: list[dict], columns: list[str] | None = None) -> pd.DataFrame:
  """Metric rows as a frame: the last row of a step wins, sorted by step."""
  if not rows:
    return pd.DataFrame({'step': pd.Series([], dtype=int)})
  df = pd.DataFrame(rows, columns=columns)
  return df.drop_duplicates('step', keep='last').sort_values('step').reset_index(drop=True)


def read_compact(path: str, point_id: str) -> tuple[list[dict], list[str]]:
  """A point's rows (null cells left out) and column order in a metrics.parquet."""
  import pyarrow.compute as pc
  stat = os.stat(path)
  table = _compact_table(path, stat.st_mtime_ns, stat.st_size)
  columns = json.loads(table.schema.metadata[COLUMNS_KEY]).get(point_id, [])
  rows = table.filter(pc.equal(table['point_id'], point_id)).select(columns).to_pylist()
  return [{k: v for k, v in r.items() if v is not None} for r in rows], columns


@functools.lru_cache(maxsize=2)
def _compact_table(path: str, mtime_ns: int, size: int):
  """A metrics.parquet as an Arrow table, read once per version of the file."""
  del mtime_ns, size  # the cache key: a rewritten file is read again
  import pyarrow.parquet as pq
  return pq.read_table(path)


def depth_value(m: pd.DataFrame, key: str, step: str = 'last') -> np.ndarray | None:
  """A per-depth diagnostic at the first or last step that logged it."""
  if key not in m:
    return None
  logged = m[m[key].notna()]
  if not len(logged):
    return None
  return depth_array(logged[key].iloc[0 if step == 'first' else -1])


def depth_array(value) -> np.ndarray:
  """A logged per-depth list as floats, None (nothing at that depth) as NaN."""
  return np.asarray([np.nan if v is None else v for v in value], dtype=float)


def missing_points(workdir: str) -> list[dict]:
  """Sweep points without a result row, each {'point_id', **its overrides}."""
  from lnexp import config as config_lib
  from lnexp.runtime import plan
  config = load_config(workdir)
  finished = Workdir(workdir).finished()
  base = config_lib.apply_overrides(config_lib.base_config(), config['base'])
  points = [{'point_id': p.point_id, **p.overrides}
            for p in plan.make_points(base, config['sweep'])]
  return [p for p in points if p['point_id'] not in finished]


def variant_keys(df: pd.DataFrame) -> list[str]:
  """Swept keys that define a variant: all but the learning rate and seeds, and
  `workdir` where workdirs repeat a point (repeats are not silently pooled)."""
  keys = [c for c in df.columns if '.' in c and c != LR_KEY and c not in SEED_KEYS]
  if 'workdir' in df and df['workdir'].nunique() > 1:
    point = keys + [k for k in (LR_KEY, *SEED_KEYS) if k in df]
    if df.duplicated(point).any():
      keys.append('workdir')
  return keys


def variant_labels(df: pd.DataFrame, keys: list[str] | None = None) -> pd.Series:
  """A short readable label per row, e.g. 'norm=batchnorm placement=pre'."""
  keys = variant_keys(df) if keys is None else keys
  if not keys:
    return pd.Series('all points', index=df.index, dtype=object)
  leaves = [k.rpartition('.')[2] for k in keys]
  names = [leaf if leaves.count(leaf) == 1 else k for k, leaf in zip(keys, leaves)]

  def label(row) -> str:
    return ' '.join(f'{n}={_short(row[k], k)}' for n, k in zip(names, keys))
  return df.apply(label, axis=1).astype(object)


def _short(value, key: str) -> str:
  if key == 'workdir':
    return os.path.basename(str(value))
  return f'{value:g}' if isinstance(value, float) else str(value)


def seed_keys(df: pd.DataFrame) -> list[str]:
  """The seed columns present in df (a 'seed' is one combination of them)."""
  return [k for k in SEED_KEYS if k in df]
