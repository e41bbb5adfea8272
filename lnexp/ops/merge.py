"""`python -m lnexp.merge --out OUT DIR [DIR ...]`: join shard workdirs into one.

Shards of one sweep (same base config) are copied into OUT, locked meanwhile,
which then reads and resumes like the unsharded run's workdir; rows OUT
already holds are kept.
"""
from __future__ import annotations

import os

from absl import flags

from lnexp import cli
from lnexp.errors import ConfigError
from lnexp.runtime import storage
from lnexp.runtime.workdir import Workdir, base_diff, load_config, write_errors

PROG = 'lnexp.merge'
USAGE = 'usage: python -m lnexp.merge --out OUT DIR [DIR ...]'


def merge(out: str, sources: list[str]) -> int:
  """Copies every source's results into `out`; returns the number of rows."""
  from lnexp.runtime.lock import WorkdirLock
  if not sources:
    raise ConfigError(f'no workdir to merge ({USAGE})')
  target = Workdir(out)
  real = {}
  for src in sources:
    path = os.path.realpath(src)
    if path == os.path.realpath(target.path):
      raise ConfigError(f'--out {out} is also an input; merge into a new directory')
    if path in real:
      raise ConfigError(f'{src} is given twice (as {real[path]})')
    real[path] = src
  configs = [load_config(src) for src in sources]
  compacted = [src for src in sources if storage.exists(storage.join(src, 'metrics.parquet'))]
  if compacted:
    raise ConfigError(f'{compacted[0]} holds compacted metrics (metrics.parquet, committed '
                      'results); merge the running workdirs, then compact the merged one')
  for src, cfg in zip(sources[1:], configs[1:]):
    if base_diff(cfg['base'], configs[0]['base']):
      raise ConfigError(f'{src} holds a different base config than {sources[0]}; '
                        'only shards of one sweep can be merged')
  from lnexp import config as config_lib
  target.check_base({**config_lib.flatten(config_lib.base_config()), **configs[0]['base']})
  with write_errors(target.path), WorkdirLock(target.path):
    sweep = [p for cfg in configs for p in cfg['sweep']]
    target.start(configs[0].get('name', 'merged'), configs[0]['base'],
                 [p for i, p in enumerate(sweep) if p not in sweep[:i]])
    have = set(target.finished())
    for src in sources:
      rows = [r for r in Workdir(src).finished().values() if r['point_id'] not in have]
      for sub in ('metrics', 'tensorboard', 'checkpoints'):
        if storage.isdir(storage.join(src, sub)):
          storage.copy_tree(storage.join(src, sub), storage.join(target.path, sub))
      target.append_results(rows)
      have |= {r['point_id'] for r in rows}
  return len(have)


def define_flags(fv: flags.FlagValues, argv: list[str]) -> None:
  flags.DEFINE_string('out', None, 'Workdir to merge into (created if absent; not one '
                      'of the DIRs).', flag_values=fv)


def _merge(fv: flags.FlagValues, dirs: list[str]) -> int:
  if fv.out is None:
    raise ConfigError(f'--out is required ({USAGE})')
  count = merge(fv.out, dirs)
  print(f'{PROG}: {count} points in {storage.normalize(fv.out)}')
  return 0


def main(argv: list[str] | None = None) -> int:
  return cli.main(PROG, define_flags, _merge, argv, positional='DIR [DIR ...]')

