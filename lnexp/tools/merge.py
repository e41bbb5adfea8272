"""`python -m lnexp.merge --out OUT DIR [DIR ...]`: join shard workdirs into one.

Shards of one sweep (`lnexp.run --shard I/N`) hold the same base config; their
result rows, metrics, TensorBoard runs and checkpoints are copied into OUT,
which then reads like an unsharded run's workdir (and resumes like one).
"""
from __future__ import annotations

import json
import os
import shutil
import sys

from lnexp.errors import ConfigError
from lnexp.engine.workdir import Workdir, append_jsonl


def merge(out: str, sources: list[str]) -> int:
  """Copies every source's results into `out`; returns the number of rows."""
  configs = []
  for src in sources:
    path = os.path.join(src, 'config.json')
    if not os.path.isfile(path):
      raise ConfigError(f'{src} is not an lnexp workdir (no config.json)')
    with open(path) as f:
      configs.append(json.load(f))
  for src, cfg in zip(sources[1:], configs[1:]):
    if cfg['base'] != configs[0]['base']:
      raise ConfigError(f'{src} holds a different base config than {sources[0]}; '
                        'only shards of one sweep can be merged')
  target = Workdir(out)
  sweep = [p for cfg in configs for p in cfg['sweep']]
  target.start(configs[0]['name'], configs[0]['base'],
               [p for i, p in enumerate(sweep) if p not in sweep[:i]])
  have = set(target.finished())
  for src in sources:
    rows = [r for r in Workdir(src).finished().values() if r['point_id'] not in have]
    for sub in ('metrics', 'tensorboard', 'checkpoints'):
      if os.path.isdir(os.path.join(src, sub)):
        shutil.copytree(os.path.join(src, sub), os.path.join(target.path, sub),
                        dirs_exist_ok=True)
    append_jsonl(target.results, rows)
    have |= {r['point_id'] for r in rows}
  return len(have)


def main(argv: list[str] | None = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  try:
    if len(argv) < 3 or argv[0] != '--out':
      raise ConfigError('usage: python -m lnexp.merge --out OUT DIR [DIR ...]')
    count = merge(argv[1], argv[2:])
  except ConfigError as e:
    print(f'lnexp.merge: error: {e}', file=sys.stderr)
    return 2
  print(f'lnexp.merge: {count} points in {os.path.abspath(argv[1])}')
  return 0
