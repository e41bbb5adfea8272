"""`python -m lnexp.ops.compact WORKDIR [WORKDIR ...]`: metrics into one Parquet file.

metrics/*.jsonl become WORKDIR/metrics.parquet (docs/data-and-workdir.md),
each point's column order in its schema metadata; the JSONL files go only once
every point reads back equal. Locked meanwhile; local workdirs only.
"""
from __future__ import annotations

import json
import os
import sys

from absl import flags

from lnexp import cli
from lnexp.analysis import results
from lnexp.errors import ConfigError
from lnexp.runtime import storage
from lnexp.runtime.workdir import Workdir, load_config, read_jsonl

PROG = 'lnexp.ops.compact'


def compact(workdir: str) -> int:
  """Writes the workdir's metrics.parquet, verifies it, removes the JSONL
  files; returns the number of points it holds."""
  from lnexp.runtime.lock import WorkdirLock
  path = storage.normalize(workdir)
  if storage.is_remote(path):
    raise ConfigError(f'{path}: compact a local copy of a gs:// workdir')
  load_config(path)
  with WorkdirLock(path):
    jsonl = _jsonl_files(path)
    ids = sorted(set(jsonl) | set(_compact_ids(path)))
    frames = {pid: results.load_metrics(path, pid) for pid in ids}
    target = os.path.join(path, results.COMPACT_FILE)
    write(target + '.tmp', {pid: _rows(path, pid) for pid in ids},
          {pid: list(frames[pid].columns) if len(frames[pid]) else [] for pid in ids})
    bad = [pid for pid in ids if not _same(frames[pid], target + '.tmp', pid)]
    if bad:
      os.remove(target + '.tmp')
      raise ConfigError(f'{path}: {len(bad)} points read back different from '
                        f'{results.COMPACT_FILE} (first {bad[0]}); nothing changed')
    os.replace(target + '.tmp', target)
    for file in jsonl.values():
      os.remove(file)
    if jsonl and not os.listdir(os.path.join(path, 'metrics')):
      os.rmdir(os.path.join(path, 'metrics'))
  return len(ids)


def write(path: str, rows: dict[str, list[dict]], columns: dict[str, list[str]]) -> None:
  """One zstd Parquet file, columns in first-seen order, float32 where exact."""
  import pyarrow as pa
  import pyarrow.parquet as pq
  order = list(dict.fromkeys(c for pid in rows for c in columns[pid]))
  flat = [{'point_id': pid, **r} for pid in rows for r in rows[pid]]
  table = pa.table({c: _narrow(pa.array([r.get(c) for r in flat]))
                    for c in ['point_id', *order]})
  table = table.replace_schema_metadata({results.COLUMNS_KEY: json.dumps(columns)})
  pq.write_table(table, path, compression='zstd', compression_level=9,
                 use_dictionary=['point_id'], use_byte_stream_split=True)


def _narrow(array):
  """A float64 (or list of float64) array as float32 where that is exact."""
  import pyarrow as pa
  typ = array.type
  if pa.types.is_float64(typ):
    narrow = pa.float32()
  elif pa.types.is_list(typ) and pa.types.is_float64(typ.value_type):
    narrow = pa.list_(pa.float32())
  else:
    return array
  cast = array.cast(narrow, safe=False)
  return cast if cast.cast(typ).equals(array) else array


def _jsonl_files(path: str) -> dict[str, str]:
  """metrics/POINT_ID.jsonl files by point id."""
  folder = os.path.join(path, 'metrics')
  names = os.listdir(folder) if os.path.isdir(folder) else []
  return {n[:-len('.jsonl')]: os.path.join(folder, n) for n in sorted(names)
          if n.endswith('.jsonl')}


def _compact_ids(path: str) -> list[str]:
  """Point ids of an earlier metrics.parquet ([] without one)."""
  import pyarrow.parquet as pq
  file = os.path.join(path, results.COMPACT_FILE)
  if not os.path.exists(file):
    return []
  return list(json.loads(pq.read_schema(file).metadata[results.COLUMNS_KEY]))


def _rows(path: str, point_id: str) -> list[dict]:
  """A point's rows as `load_metrics` keeps them: the last of a step, by step."""
  file = Workdir(path).metrics(point_id)
  if not os.path.exists(file):
    return results.read_compact(os.path.join(path, results.COMPACT_FILE), point_id)[0]
  by_step = {r.get('step'): r for r in read_jsonl(file)}
  return [by_step[s] for s in sorted(by_step, key=lambda s: (s is None, s))]


def _same(frame, path: str, point_id: str) -> bool:
  """Whether the point's frame reads back from `path` exactly equal."""
  import pandas as pd
  back = results.metrics_frame(*results.read_compact(path, point_id))
  try:
    pd.testing.assert_frame_equal(frame, back, check_exact=True)
  except AssertionError:
    return False
  return True


def define_flags(fv: flags.FlagValues, argv: list[str]) -> None:
  del fv, argv  # no flags: the workdirs are positional


def _compact(fv: flags.FlagValues, dirs: list[str]) -> int:
  if not dirs:
    raise ConfigError(f'no workdir to compact (usage: python -m {PROG} WORKDIR ...)')
  for d in dirs:
    before = _size(d)
    count = compact(d)
    print(f'{PROG}: {storage.normalize(d)}: {count} points, '
          f'{before / 1e6:.1f} MB -> {_size(d) / 1e6:.1f} MB')
  return 0


def _size(path: str) -> int:
  """Bytes under a local folder."""
  return sum(os.path.getsize(os.path.join(root, f))
             for root, _, files in os.walk(path) for f in files)


def main(argv: list[str] | None = None) -> int:
  return cli.main(PROG, define_flags, _compact, argv, positional='WORKDIR [WORKDIR ...]')


if __name__ == '__main__':
  sys.exit(main())
