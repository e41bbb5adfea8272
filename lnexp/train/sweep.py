"""Plans a run (points, groups, workdir) and trains every unfinished group."""
from __future__ import annotations

import dataclasses
import math
import os
import sys

from ml_collections import ConfigDict

from lnexp import config as config_lib
from lnexp.errors import ConfigError
from lnexp.runtime import interrupts


@dataclasses.dataclass(frozen=True)
class RunPlan:
  """What a run will do: the resolved base config, its sweep, points and groups."""
  base: ConfigDict
  sweep: list[dict]
  name: str
  points: list
  groups: list
  workdir: str


def plan_run(config_spec: str, overrides: dict, workdir: str | None = None) -> RunPlan:
  """Loads and validates everything a run needs, writing nothing."""
  from lnexp.data import make_source
  from lnexp.runtime import plan as plan_lib
  loaded = config_lib.load_config_file(config_spec)
  base, sweep, name = loaded.base, loaded.sweep, loaded.name
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
  return RunPlan(base, sweep, name, points, groups, workdir or os.path.join('runs', name))


def train_and_evaluate(config_spec: str, overrides: dict | None = None,
                       workdir: str | None = None, out=None,
                       shard: tuple[int, int] | None = None,
                       wait_for_lock: bool = False) -> list[dict]:
  """Runs every unfinished point (of `shard`'s groups); returns their rows.

  Shard I/N takes the I-th of N slices of the plan's groups
  (`plan.shard_groups`), so machines that do not talk can split a grid and
  `lnexp.merge` joins their workdirs; shards may also share one workdir.
  Nothing is written before the plan, the workdir and every group's memory
  estimate check out; then the (workdir, shard) lock is taken (waiting for
  it with `wait_for_lock`; `lnexp.runtime.lock`). A workdir that cannot be
  written (read-only, disk full) is one ConfigError; rerunning resumes.
  """
  import jax

  from lnexp.data import make_source
  from lnexp.runtime import plan as plan_lib
  from lnexp.runtime.lock import WorkdirLock
  from lnexp.runtime.workdir import Workdir, write_error
  from lnexp.train import loop
  out = out or sys.stdout
  plan = plan_run(config_spec, overrides or {}, workdir)
  base, sweep, name, points, groups = (plan.base, plan.sweep, plan.name, plan.points,
                                       plan.groups)
  workdir = plan.workdir
  if shard is not None:
    groups = plan_lib.shard_groups(groups, *shard)
    points = [p for g in groups for p in g.points]
  wd = Workdir(workdir)
  wd.check_base(config_lib.flatten(base))

  def unfinished():
    finished = _by_point_id(base, wd)
    return finished, plan_lib.make_groups(
        [p for p in points if p.point_id not in finished], base.train.max_lanes_per_program)
  estimates = check_memory(unfinished()[1], jax.devices())
  primary = jax.process_index() == 0  # process 0 alone locks, writes and prints
  if not primary:
    out = open(os.devnull, 'w')
  lock = WorkdirLock(wd.path, shard, wait_for_lock) if primary else None
  try:
    with interrupts.installed():
      _take(lock)
      finished, todo = unfinished()  # another process may have finished some
      if primary:
        wd.start(name, config_lib.flatten(base), sweep)
      print(f'lnexp.run: {len(points)} points ({len(finished)} finished) in '
            f'{len(groups)} groups; workdir {wd.path}', file=out)
      for g in todo:
        print('  ' + describe_group(g, estimates.get(g.group_id)), file=out)
      for i, g in enumerate(todo):
        loop.run_group(g, make_source(g.config), wd, label=f'group {i + 1}/{len(todo)}',
                       renew=lock.renew if lock else None)
      # Bracket each variant's best LR (optim.lr_extend; one process, unsharded:
      # the extension reads every variant's finished rows).
      original = {p.point_id for p in points}
      while base.optim.lr_extend and shard is None and jax.process_count() == 1:
        new = [e for e in plan_lib.lr_extensions(points, original, _by_point_id(base, wd),
                                                 base.optim.lr_extend) if e not in sweep]
        if not new:
          break
        sweep = sweep + new
        points = plan_lib.make_points(base, sweep)
        wd.start(name, config_lib.flatten(base), sweep)  # recorded like any extension
        finished, todo = unfinished()
        print(f'lnexp.run: a best LR at a grid edge: {len(new)} points extend the grid '
              f'(lr {", ".join(sorted({str(e["optim.lr"]) for e in new}))})', file=out)
        for i, g in enumerate(todo):
          loop.run_group(g, make_source(g.config), wd,
                         label=f'extension group {i + 1}/{len(todo)}',
                         renew=lock.renew if lock else None)
  except OSError as e:
    error = write_error(e, wd.path)
    if error is None:
      raise
    raise error from None
  finally:
    if lock:
      lock.release()
  rows = _by_point_id(base, wd)
  print_table([rows[p.point_id] for p in points if p.point_id in rows], out)
  print(f'workdir: {wd.path}', file=out)
  return [rows[p.point_id] for p in points if p.point_id in rows]


def _take(lock) -> None:
  """Takes the workdir lock on process 0 (None elsewhere); in a multi-host run
  the other processes stop with process 0 instead of waiting in a collective."""
  import jax
  error = None
  if lock:
    try:
      lock.acquire()
    except ConfigError as e:
      error = e
  if jax.process_count() > 1:
    import numpy as np
    from jax.experimental import multihost_utils
    if not multihost_utils.broadcast_one_to_all(np.int32(error is None)) and not lock:
      raise ConfigError('process 0 could not lock the workdir (see its error)')
  if error:
    raise error


def check_memory(groups, devices) -> dict[str, int]:
  """Estimated bytes per group; ConfigError for one that cannot fit (nothing
  written yet). Vocabulary sizes come from the groups' data sources."""
  from lnexp.data import make_source
  from lnexp.train import memory
  from lnexp.train.program import lane_mode
  vocab, estimates = {}, {}
  for g in groups:
    cfg = config_lib.apply_overrides(g.config, {})
    key = repr(sorted(config_lib.flatten(cfg.data).items()))
    if key not in vocab:
      vocab[key] = make_source(cfg).vocab_size
    cfg.model.vocab_size = vocab[key]
    estimates[g.group_id] = memory.check(g.group_id, cfg, len(g.points), devices,
                                         lane_mode(cfg.train.lane_mode))
  return estimates


def describe_group(g, memory_bytes: int | None) -> str:
  """One plan line: lanes and devices, variant, time and memory estimates."""
  import jax

  from lnexp.measure import flops
  from lnexp.train.program import mesh_shape
  est = flops.estimate_seconds(g.config, len(g.points))
  lane_devices, _ = mesh_shape(jax.device_count(), len(g.points), g.config.train.batch_size)
  mem = '' if memory_bytes is None else f', ~{memory_bytes / 2**20:,.0f} MiB'
  return (f'group {g.group_id}: {len(g.points)} lanes '
          f'({math.ceil(len(g.points) / lane_devices)} per device on {lane_devices}), '
          f'{g.config.model.norm}/{g.config.model.placement}/share='
          f'{g.config.model.share} L={g.config.model.num_layers}, ~{est:.0f}s{mem}')


def _by_point_id(base, wd) -> dict[str, dict]:
  """Finished rows keyed by their point's canonical id (older workdirs stored
  ids hashed from the sweep entry as written)."""
  from lnexp.runtime import plan as plan_lib
  return {plan_lib.row_point_id(base, r): r for r in wd.finished().values()}


def print_table(rows: list[dict], out) -> None:
  swept = sorted({k for r in rows for k in r if '.' in k})
  head = ['point_id', *swept, 'status', 'final_eval_loss']
  lines = [head] + [[str(r['point_id'])] + [str(r.get(k)) for k in swept] +
                    [r['status'], 'null' if r['final_eval_loss'] is None
                     else f"{r['final_eval_loss']:.4f}"] for r in rows]
  widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
  for line in lines:
    print('  '.join(c.ljust(w) for c, w in zip(line, widths)), file=out)
