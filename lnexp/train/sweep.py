"""A run, from its loaded config file to result rows: plan, check, lock, train
every unfinished group (then any LR-grid extension), print the table."""
from __future__ import annotations

import dataclasses
import math
import os
import sys

import jax
import numpy as np
from jax.experimental import multihost_utils
from ml_collections import ConfigDict

from lnexp import config as config_lib
from lnexp.config import ConfigFile
from lnexp.data import DataSource, make_source
from lnexp.errors import ConfigError
from lnexp.models import validate
from lnexp.models.norms import NORMS
from lnexp.models.placements import PLACEMENTS
from lnexp.runtime import interrupts
from lnexp.runtime import plan as plan_lib
from lnexp.runtime.lock import WorkdirLock
from lnexp.runtime.workdir import Workdir, write_errors
from lnexp.train import memory
from lnexp.train.program import lane_mode, mesh_shape


def source_key(cfg: ConfigDict) -> str:
  """What a data source depends on: the data section, the batch shape, the arch."""
  t = cfg.train
  return repr((sorted(config_lib.flatten(cfg.data).items()), t.batch_size, t.seq_len,
               t.eval_batches, cfg.model.arch))


@dataclasses.dataclass(frozen=True)
class RunPlan:
  """What a run will do: the resolved base config, its sweep, points and groups,
  one data source per distinct data config (`source`), and the workdir."""
  base: ConfigDict
  sweep: list[dict]
  name: str
  points: list[plan_lib.Point]
  groups: list[plan_lib.Group]
  workdir: str
  sources: dict[str, DataSource]

  def source(self, cfg: ConfigDict) -> DataSource:
    return self.sources[source_key(cfg)]

  @property
  def moot(self) -> set[str]:
    """Base keys no model of the sweep reads, which a resume ignores."""
    return validate.moot_keys(self.base, self.sweep)

  def extended(self, entries: list[dict]) -> RunPlan:
    """This plan with more sweep entries (their data sources reused)."""
    return _plan(self.base, self.sweep + entries, self.name, self.workdir, self.sources)

  def sharded(self, index: int, count: int) -> RunPlan:
    """Shard `index` of `count` of the groups (`plan.shard_groups`)."""
    groups = plan_lib.shard_groups(self.groups, index, count)
    return dataclasses.replace(self, groups=groups,
                               points=[p for g in groups for p in g.points])


def plan_run(config: ConfigFile | str, overrides: dict | None = None,
             workdir: str | None = None) -> RunPlan:
  """Validates everything a run needs (data errors included), writing nothing;
  config: a loaded config file, or its `path.py[:arg]`."""
  if isinstance(config, str):
    config = config_lib.load_config_file(config)
  overrides = overrides or {}
  swept = sorted({k for entry in config.sweep for k in entry} & set(overrides))
  if swept:
    raise ConfigError(f'--config.{swept[0]} is swept by {config.path}\'s get_sweep(), '
                      'which would override it; change the sweep or drop the flag')
  base = config_lib.apply_overrides(config.base, overrides)
  validate.validate(base)
  return _plan(base, config.sweep, config.name,
               workdir or os.path.join('runs', config.name), {})


def _plan(base, sweep, name, workdir, sources) -> RunPlan:
  points = plan_lib.make_points(base, sweep)
  sources = dict(sources)
  for p in points:  # data errors (missing file, offline TFDS) before any output
    if source_key(p.config) not in sources:
      sources[source_key(p.config)] = make_source(p.config)
  return RunPlan(base, sweep, name, points,
                 plan_lib.make_groups(points, base.train.max_lanes_per_program), workdir,
                 sources)


def train_and_evaluate(config: ConfigFile | str, overrides: dict | None = None,
                       workdir: str | None = None, out=None,
                       shard: tuple[int, int] | None = None,
                       wait_for_lock: bool = False,
                       checkpoint_on_term: bool = True) -> list[dict]:
  """Runs every unfinished point (of `shard`'s groups); returns their rows.

  Nothing is written before the plan, workdir and memory estimates check out;
  then the (workdir, shard) lock is taken (`lnexp.runtime.lock`). A workdir
  that cannot be written is one ConfigError; rerunning resumes.
  """
  plan = plan_run(config, overrides, workdir)
  entries, distinct = len(plan.sweep), len(plan.points)
  if shard is not None:
    plan = plan.sharded(*shard)
  wd = Workdir(plan.workdir, plan.base.train.storage_timeout_s)
  saved = wd.check_base(config_lib.flatten(plan.base), plan.moot)
  primary = jax.process_index() == 0  # process 0 alone locks, writes and prints
  out = (out or sys.stdout) if primary else open(os.devnull, 'w')
  was = saved and saved['base'].get('train.max_lanes_per_program', 0)
  if saved and was != plan.base.train.max_lanes_per_program:
    print(f'lnexp.run: train.max_lanes_per_program was {was}: an unfinished point whose '
          'group the new split changes restarts from step 0', file=out)
  if entries > distinct:
    print(f'lnexp.run: {entries} sweep entries, {distinct} distinct points (entries '
          'that define the same model run once)', file=out)
  estimates = check_memory(plan, _unfinished(plan, wd.finished()), jax.devices())
  lock = WorkdirLock(wd.path, shard, wait_for_lock, bounded=wd.bounded) if primary else None
  try:
    with write_errors(wd.path), interrupts.installed():
      _take(lock)
      plan = _train(plan, wd, lock, estimates, shard, out, checkpoint_on_term)
  finally:
    if lock:
      lock.release()
  finished = wd.finished()
  rows = [finished[p.point_id] for p in plan.points if p.point_id in finished]
  print_table(rows, out)
  print(f'workdir: {wd.path}', file=out)
  return rows


SHOWN_GROUPS = 20  # plan lines printed before a summary line


def print_plan(plan: RunPlan, finished: int, todo: list, estimates: dict, path: str,
               out) -> None:
  """The header (time left) and a line per group to run, the first SHOWN_GROUPS."""
  print(f'lnexp.run: {len(plan.points)} points ({finished} finished) in '
        f'{len(plan.groups)} groups, ~{plan_lib.estimate_seconds(todo) / 60:.1f} min left '
        f'on this machine class (compiling included); workdir {path}', file=out)
  for g in todo[:SHOWN_GROUPS]:
    print('  ' + describe_group(g, estimates.get(g.group_id)), file=out)
  if len(todo) > SHOWN_GROUPS:
    print(f'  ... and {len(todo) - SHOWN_GROUPS} more groups', file=out)


def _train(plan: RunPlan, wd: Workdir, lock, estimates: dict, shard, out,
           checkpoint_on_term: bool) -> RunPlan:
  """Trains the unfinished groups, then each LR-grid extension's; returns the plan."""
  # orbax: imported once planning passed (bad input fails fast)
  from lnexp.train import loop
  if lock:
    wd.start(plan.name, config_lib.flatten(plan.base), plan.sweep, plan.moot)
  finished = wd.finished()  # another process may have finished some
  todo = _unfinished(plan, finished)
  print_plan(plan, len(finished), todo, estimates, wd.path, out)
  original, stage = {p.point_id for p in plan.points}, 'group'
  while True:
    for i, g in enumerate(todo):
      loop.run_group(g, plan.source(g.config), wd, label=f'{stage} {i + 1}/{len(todo)}',
                     renew=lock.renew if lock else None,
                     checkpoint_on_term=checkpoint_on_term)
    new = _lr_extension(plan, wd, original, shard)
    if not new:
      return plan
    plan, stage = plan.extended(new), 'extension group'
    # config.json: its sweep
    wd.start(plan.name, config_lib.flatten(plan.base), plan.sweep, plan.moot)
    todo = _unfinished(plan, wd.finished())
    print(f'lnexp.run: a best LR at a grid edge: {len(new)} points extend the grid '
          f'(lr {", ".join(sorted({str(e["optim.lr"]) for e in new}))})', file=out)


def _unfinished(plan: RunPlan, finished: dict) -> list[plan_lib.Group]:
  """Groups of the points without a result row."""
  return plan_lib.make_groups([p for p in plan.points if p.point_id not in finished],
                              plan.base.train.max_lanes_per_program)


def _lr_extension(plan: RunPlan, wd: Workdir, original: set[str], shard) -> list[dict]:
  """New sweep entries that bracket each variant's best LR (optim.lr_extend;
  one process, unsharded: the extension reads every variant's finished rows)."""
  if not plan_lib.extends(plan.points) or shard is not None or jax.process_count() > 1:
    return []
  return [e for e in plan_lib.lr_extensions(plan.points, original, wd.finished())
          if e not in plan.sweep]


def _take(lock) -> None:
  """Takes the workdir lock on process 0 (None elsewhere); in a multi-host run
  the other processes stop with process 0 instead of waiting in a collective."""
  error = None
  if lock:
    try:
      lock.acquire()
    except ConfigError as e:
      error = e
  if jax.process_count() > 1:
    if not multihost_utils.broadcast_one_to_all(np.int32(error is None)) and not lock:
      raise ConfigError('process 0 could not lock the workdir (see its error)')
  if error:
    raise error


def check_memory(plan: RunPlan, groups: list[plan_lib.Group], devices) -> dict[str, int]:
  """Estimated bytes per group; ConfigError for one that cannot fit."""
  estimates = {}
  for g in groups:
    cfg = config_lib.apply_overrides(
        g.config, {'model.vocab_size': plan.source(g.config).vocab_size})
    estimates[g.group_id] = memory.check(g.group_id, cfg, len(g.points), devices,
                                         lane_mode(cfg.train.lane_mode))
  return estimates


def describe_group(g: plan_lib.Group, memory_bytes: int | None) -> str:
  """One plan line: lanes and devices, variant, time and memory estimates."""
  est = plan_lib.group_seconds(g)
  lane_devices, _ = mesh_shape(jax.device_count(), len(g.points), g.config.train.batch_size)
  mem = '' if memory_bytes is None else f', ~{memory_bytes / 2**20:,.0f} MiB'
  m = g.config.model
  moot = NORMS[m.norm].identity and PLACEMENTS[m.placement].moot_without_norm
  variant = m.norm if moot else f'{m.norm}/{m.placement}'  # no norm: one model
  return (f'group {g.group_id}: {len(g.points)} lanes '
          f'({math.ceil(len(g.points) / lane_devices)} per device on {lane_devices}), '
          f'{variant} share={m.share} L={m.num_layers}, ~{est:.0f}s{mem}')


def print_table(rows: list[dict], out) -> None:
  """One line per point: its swept keys, status (a finished run that did not
  learn reads `collapsed`), final eval loss and the data's entropy floor."""
  swept = sorted({k for r in rows for k in r if '.' in k})
  head = ['point_id', *swept, 'status', 'final_eval_loss', 'floor']
  fmt = lambda x: 'null' if x is None else f'{x:.4f}'  # noqa: E731
  lines = [head] + [[str(r['point_id'])] + [str(r.get(k)) for k in swept] +
                    ['collapsed' if r['status'] == 'ok' and r.get('collapsed') else r['status'],
                     fmt(r['final_eval_loss']), fmt(r.get('entropy_floor'))] for r in rows]
  widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
  for line in lines:
    print('  '.join(c.ljust(w) for c, w in zip(line, widths)).rstrip(), file=out)
