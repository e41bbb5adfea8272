"""`python -m lnexp.run --config configs/NAME.py[:ARG] [--workdir DIR] [--config.k=v ...]`.

Parses flags, then `train_and_evaluate`. Bad input exits 2 with one line.
"""
from __future__ import annotations

import math
import os
import sys
import time

from lnexp import config as config_lib
from lnexp import host_memory
from lnexp.errors import ConfigError

USAGE = ('usage: python -m lnexp.run --config FILE.py[:ARG] [--workdir DIR] '
         '[--shard I/N] [--host_devices N] [--multihost [--coordinator HOST:PORT '
         '--num_processes N --process_id I]] [--config.KEY=VALUE ...]')
MULTIHOST_FLAGS = ('coordinator', 'num_processes', 'process_id', 'init_timeout')


def _int_flag(name: str, value: str) -> int:
  if not value.isdigit():
    raise ConfigError(f'--{name}={value}: expected a non-negative integer')
  return int(value)


def parse_shard(text: str) -> tuple[int, int]:
  """'I/N' -> (I, N), 0 <= I < N: run the I-th of N slices of the groups."""
  index, slash, count = text.partition('/')
  if not (slash and index.isdigit() and count.isdigit()) or not \
      0 <= int(index) < int(count):
    raise ConfigError(f'--shard {text}: expected I/N with 0 <= I < N (e.g. 0/4)')
  return int(index), int(count)


def parse_args(argv: list[str]) -> dict:
  """Flags -> {'config', 'workdir', 'overrides'}; ConfigError on anything else."""
  args = {'config': None, 'workdir': None, 'shard': None, 'host_devices': None,
          'multihost': False, 'coordinator': None, 'num_processes': None, 'process_id': None,
          'init_timeout': 60, 'overrides': {}}
  i = 0
  while i < len(argv):
    arg = argv[i]
    if not arg.startswith('--'):
      raise ConfigError(f'unexpected argument {arg!r}; {USAGE}')
    name, eq, value = arg[2:].partition('=')
    if name == 'multihost' and not eq:
      args['multihost'], i = True, i + 1
      continue
    if not eq:
      if i + 1 >= len(argv):
        raise ConfigError(f'--{name} needs a value; {USAGE}')
      value, i = argv[i + 1], i + 1
    if name.startswith('config.'):
      args['overrides'][name[len('config.'):]] = value
    elif name in ('config', 'workdir'):
      args[name] = value
    elif name == 'shard':
      args['shard'] = parse_shard(value)
    elif name == 'host_devices':
      args['host_devices'] = _int_flag(name, value)
      if args['host_devices'] < 1:
        raise ConfigError(f'--host_devices={value}: expected a positive integer')
    elif name in MULTIHOST_FLAGS:
      args[name] = value if name == 'coordinator' else _int_flag(name, value)
    else:
      raise ConfigError(f'unknown flag --{name}; {USAGE}')
    i += 1
  if args['config'] is None:
    raise ConfigError(f'--config is required; {USAGE}')
  return args


def set_host_devices(count: int) -> None:
  """Splits the CPU into `count` JAX devices. Lanes then spread over them,
  each device mapping over its own; a one-lane group splits its batch. On
  this 2-core machine with 2: claims-size lanes 0.53-0.70 x sequential
  (lnexp.bench host_devices), one device's lane loop ~1.0 x. Other backends
  ignore it."""
  import jax
  try:
    jax.config.update('jax_num_cpu_devices', count)
  except RuntimeError:
    raise ConfigError('--host_devices must be given before JAX starts in this process '
                      "(in a notebook: jax.config.update('jax_num_cpu_devices', N) right "
                      'after `import jax`)') from None


def plan_run(config_spec: str, overrides: dict, workdir: str | None = None):
  """Loads and validates everything a run needs, writing nothing."""
  from lnexp import plan as plan_lib
  from lnexp.data import make_source
  base, sweep, name = config_lib.load_config_file(config_spec)
  base = config_lib.apply_overrides(base, overrides, from_cli=True)
  config_lib.validate(base)
  points = plan_lib.make_points(base, sweep)
  for p in points:  # data errors (missing file, offline TFDS) before any output
    make_source(p.config)
  groups = plan_lib.make_groups(points, base.train.max_lanes_per_program)
  return base, sweep, name, points, groups, workdir or os.path.join('runs', name)


def train_and_evaluate(config_spec: str, overrides: dict | None = None,
                       workdir: str | None = None, out=None,
                       shard: tuple[int, int] | None = None) -> list[dict]:
  """Runs every unfinished point (of `shard`'s groups); returns their rows.

  Shard I/N takes the I-th of N slices of the plan's groups
  (`plan.shard_groups`), so machines that do not talk can split a grid and
  `lnexp.merge` joins their workdirs; shards may also share one workdir.
  """
  import jax
  from lnexp import flops
  from lnexp import plan as plan_lib
  from lnexp.loop import run_group
  from lnexp.program import mesh_shape
  from lnexp.workdir import Workdir
  out = out or sys.stdout
  base, sweep, name, points, groups, workdir = plan_run(config_spec, overrides or {},
                                                        workdir)
  if shard is not None:
    groups = plan_lib.shard_groups(groups, *shard)
    points = [p for g in groups for p in g.points]
  wd = Workdir(workdir)
  wd.check_base(plan_lib.flatten(base))
  finished = wd.finished()
  todo = plan_lib.make_groups([p for p in points if p.point_id not in finished],
                              base.train.max_lanes_per_program)
  if jax.process_index() != 0:  # process 0 alone writes the workdir and prints
    out = open(os.devnull, 'w')
  else:
    wd.start(name, plan_lib.flatten(base), sweep)
  print(f'lnexp.run: {len(points)} points ({len(finished)} finished) in '
        f'{len(groups)} groups; workdir {wd.path}', file=out)
  for g in todo:
    est = flops.estimate_seconds(g.config, len(g.points))
    lane_devices, _ = mesh_shape(jax.device_count(), len(g.points),
                                 g.config.train.batch_size)
    print(f'  group {g.group_id}: {len(g.points)} lanes '
          f'({math.ceil(len(g.points) / lane_devices)} per device on {lane_devices}), '
          f'{g.config.model.norm}/{g.config.model.placement}/share='
          f'{g.config.model.share} L={g.config.model.num_layers}, ~{est:.0f}s', file=out)
  for i, g in enumerate(todo):
    run_group(g, wd, label=f'group {i + 1}/{len(todo)}')
  rows = wd.finished()
  print_table([rows[p.point_id] for p in points if p.point_id in rows], out)
  print(f'workdir: {wd.path}', file=out)
  return [rows[p.point_id] for p in points if p.point_id in rows]


def print_table(rows: list[dict], out) -> None:
  swept = sorted({k for r in rows for k in r if '.' in k})
  head = ['point_id', *swept, 'status', 'final_eval_loss']
  lines = [head] + [[str(r['point_id'])] + [str(r.get(k)) for k in swept] +
                    [r['status'], 'null' if r['final_eval_loss'] is None
                     else f"{r['final_eval_loss']:.4f}"] for r in rows]
  widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
  for line in lines:
    print('  '.join(c.ljust(w) for c, w in zip(line, widths)), file=out)


def main(argv: list[str] | None = None) -> int:
  t0 = time.time()
  try:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args['host_devices']:
      set_host_devices(args['host_devices'])
    if args['multihost']:
      from lnexp import distributed
      distributed.initialize(args['coordinator'], args['num_processes'],
                             args['process_id'], args['init_timeout'])
    train_and_evaluate(args['config'], args['overrides'], args['workdir'],
                       shard=args['shard'])
  except ConfigError as e:
    print(f'lnexp.run: error: {e}', file=sys.stderr)
    return 2
  except RuntimeError as e:  # XLA's out-of-memory is a RuntimeError subclass
    if 'RESOURCE_EXHAUSTED' not in str(e) and 'out of memory' not in str(e).lower():
      raise
    print('lnexp.run: error: out of memory running a group; set '
          '--config.train.max_lanes_per_program to fewer lanes (finished points are '
          'kept; rerun the same command to resume)', file=sys.stderr)
    return 1
  print(f'lnexp.run: done in {time.time() - t0:.1f}s')
  return 0


if __name__ == '__main__':
  host_memory.keep_step_memory('lnexp.run')
  sys.exit(main())
