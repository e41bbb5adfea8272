"""Plans a run (points, groups, workdir) and trains every unfinished group."""
from __future__ import annotations

import math
import os
import sys

from lnexp import config as config_lib
from lnexp.errors import ConfigError


def plan_run(config_spec: str, overrides: dict, workdir: str | None = None):
  """Loads and validates everything a run needs, writing nothing."""
  from lnexp.engine import plan as plan_lib
  from lnexp.data import make_source
  base, sweep, name = config_lib.load_config_file(config_spec)
  swept = sorted({k for entry in sweep for k in entry} & set(overrides))
  if swept:
    raise ConfigError(f'--config.{swept[0]} is swept by {config_spec}\'s get_sweep(), '
                      'which would override it; change the sweep or drop the flag')
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
  from lnexp.engine import plan as plan_lib
  from lnexp.engine.loop import run_group
  from lnexp.engine.program import mesh_shape
  from lnexp.engine.workdir import Workdir
  out = out or sys.stdout
  base, sweep, name, points, groups, workdir = plan_run(config_spec, overrides or {},
                                                        workdir)
  if shard is not None:
    groups = plan_lib.shard_groups(groups, *shard)
    points = [p for g in groups for p in g.points]
  wd = Workdir(workdir)
  wd.check_base(config_lib.flatten(base))
  finished = wd.finished()
  todo = plan_lib.make_groups([p for p in points if p.point_id not in finished],
                              base.train.max_lanes_per_program)
  if jax.process_index() != 0:  # process 0 alone writes the workdir and prints
    out = open(os.devnull, 'w')
  else:
    wd.start(name, config_lib.flatten(base), sweep)
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
