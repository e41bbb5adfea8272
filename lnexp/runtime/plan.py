"""Sweep planning: points with stable ids, grouped by structure into lanes.

Points that differ only in `validate.LANE_KEYS` share one compiled program as
lanes of one vmapped step; any other difference makes a new group.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from lnexp import config as config_lib
from lnexp.config import SEED_KEYS, ConfigDict
from lnexp.measure import flops
from lnexp.models import validate


def short_hash(obj: Any, n: int = 8) -> str:
  return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:n]


@dataclasses.dataclass(frozen=True)
class Point:
  point_id: str
  overrides: dict          # the sweep entry's dotted keys, canonical values
  config: ConfigDict


@dataclasses.dataclass(frozen=True)
class Group:
  group_id: str
  points: tuple[Point, ...]

  @property
  def config(self) -> ConfigDict:
    """The group's structure; lane keys come per lane from `lane_hparams`."""
    return self.points[0].config

  def lane_hparams(self) -> dict[str, list]:
    return {name: [config_lib.get(p.config, key) for p in self.points]
            for key, name in validate.LANE_KEYS.items()}


def make_point(base: ConfigDict, overrides: dict) -> Point:
  """The validated point of one sweep entry; its id hashes where its canonical
  config differs from the canonical base, so equal models share one id."""
  cfg = validate.canonical(config_lib.apply_overrides(base, overrides))
  validate.validate(cfg)
  reference = config_lib.flatten(validate.canonical(base))
  differs = {k: v for k, v in sorted(config_lib.flatten(cfg).items())
             if reference.get(k) != v}
  return Point(short_hash(differs), {k: config_lib.get(cfg, k) for k in sorted(overrides)},
               cfg)


def make_points(base: ConfigDict, sweep: list[dict]) -> list[Point]:
  """Validated points of a sweep, equal models merged (first one kept)."""
  points = {}
  for overrides in sweep:
    point = make_point(base, overrides)
    points.setdefault(point.point_id, point)
  return list(points.values())


def structure_key(cfg: ConfigDict, ignore: tuple[str, ...] = ()) -> str:
  """Points with equal keys share a group (lane keys and `ignore` aside)."""
  flat = {k: v for k, v in config_lib.flatten(cfg).items()
          if k not in validate.LANE_KEYS and k not in ignore}
  return short_hash(flat, 16)


def compile_key(cfg: ConfigDict) -> str:
  """Groups with equal keys run the same compiled programs (they differ in data order only)."""
  return structure_key(cfg, ('data.seed',))


# Seconds of compiling a structure, of a group beyond its FLOPs, of a checkpoint;
# with `train.fast_compile`. Fitted: docs/performance.md ("Planner constants").
COMPILE_S, GROUP_S, CHECKPOINT_S = 13.0, 0.5, 1.6
FAST_COMPILE_S, FAST_STEP_SLOWDOWN = 4.0, 2.5


def _compile_seconds(cfg: ConfigDict) -> float:
  return FAST_COMPILE_S if cfg.train.fast_compile else COMPILE_S


def group_seconds(group: Group) -> float:
  """A group's planned seconds, compiling aside."""
  slowdown = FAST_STEP_SLOWDOWN if group.config.train.fast_compile else 1.0
  t = group.config.train
  return (slowdown * flops.estimate_seconds(group.config, len(group.points)) + GROUP_S
          + CHECKPOINT_S * (t.steps // max(t.checkpoint_every, 1)))


def estimate_seconds(groups: list[Group]) -> float:
  """Planning estimate: lnexp.measure.flops' step time plus compile and group costs."""
  structures = {compile_key(g.config): g.config for g in groups}
  return sum(map(group_seconds, groups)) + sum(map(_compile_seconds, structures.values()))


def shard_groups(groups: list[Group], index: int, count: int) -> list[Group]:
  """Shard `index` of `count`, deterministic and balanced by estimated time.

  Largest first, groups sharing compiled programs go whole to the least-loaded
  shard, or if they outweigh a fair share, one by one where they finish soonest.
  """
  by_key: dict[str, list[Group]] = {}
  for g in groups:
    by_key.setdefault(compile_key(g.config), []).append(g)
  fair = estimate_seconds(groups) / count
  loads, compiled, mine = [0.0] * count, [set() for _ in range(count)], set()
  for key, members in sorted(by_key.items(), key=lambda kv: -estimate_seconds(kv[1])):
    if estimate_seconds(members) <= fair:
      target = loads.index(min(loads))
      loads[target] += estimate_seconds(members)
      mine.update(g.group_id for g in members if target == index)
      continue
    for g in sorted(members, key=group_seconds, reverse=True):
      finish = [loads[s] + group_seconds(g)
                + (key not in compiled[s]) * _compile_seconds(g.config)
                for s in range(count)]
      target = finish.index(min(finish))
      loads[target] = finish[target]
      compiled[target].add(key)
      mine.update([g.group_id] if target == index else [])
  return [g for g in groups if g.group_id in mine]


def make_groups(points: list[Point], max_lanes: int = 0) -> list[Group]:
  """Groups by structure, in first-seen order, split into chunks of max_lanes;
  groups that share compiled programs (compile_key) run one after another, so
  a process holds few compiled structures at a time (program._compiled)."""
  by_key: dict[tuple[str, str], list[Point]] = {}
  for p in points:
    by_key.setdefault((compile_key(p.config), structure_key(p.config)), []).append(p)
  first_seen = {}
  for shared, _ in by_key:
    first_seen.setdefault(shared, len(first_seen))
  groups = []
  for _, members in sorted(by_key.items(), key=lambda kv: first_seen[kv[0][0]]):
    size = max_lanes or len(members)
    for i in range(0, len(members), size):
      chunk = tuple(members[i:i + size])
      groups.append(Group(short_hash([p.point_id for p in chunk]), chunk))
  return groups


def _variant(point: Point) -> str:
  """Points of one variant differ only in learning rate and seeds."""
  flat = config_lib.flatten(point.config)  # vocab_size: filled in by the data source
  return short_hash({k: v for k, v in flat.items()
                     if k not in ('optim.lr', 'model.vocab_size', *SEED_KEYS)}, 16)


def extends(points: list[Point]) -> bool:
  """Whether any point may grow its variant's LR grid (optim.lr_extend)."""
  return any(p.config.optim.lr_extend for p in points)


def lr_extensions(points: list[Point], original: set[str], rows: dict[str, dict]) -> list[dict]:
  """Sweep entries that extend a finished variant's LR grid one grid step past
  the edge where its best LR (mean final eval loss over seeds, diverged at
  ln V) sits, up to the variant's optim.lr_extend steps per side
  (docs/data-and-workdir.md). `original`: the ids of the config file's own points."""
  import math
  variants: dict[str, list[Point]] = {}
  for p in points:
    variants.setdefault(_variant(p), []).append(p)
  entries = []
  for members in variants.values():
    by_lr: dict[float, list[Point]] = {}
    for p in members:
      by_lr.setdefault(p.config.optim.lr, []).append(p)
    lrs = sorted(by_lr)
    grid = sorted({p.config.optim.lr for p in members if p.point_id in original})
    max_steps = members[0].config.optim.lr_extend  # a variant's config but for LR and seeds
    if len(grid) < 2 or not max_steps or any(p.point_id not in rows for p in members):
      continue

    def loss(p):
      row = rows[p.point_id]
      ok = row['status'] == 'ok' and row['final_eval_loss'] is not None
      return row['final_eval_loss'] if ok else math.log(row['vocab_size'])
    mean = {lr: sum(map(loss, by_lr[lr])) / len(by_lr[lr]) for lr in lrs}
    best = min(lrs, key=mean.get)
    for edge, inner, added in ((lrs[0], grid[1] / grid[0], sum(lr < grid[0] for lr in lrs)),
                               (lrs[-1], grid[-1] / grid[-2],
                                sum(lr > grid[-1] for lr in lrs))):
      if best == edge and added < max_steps:
        new_lr = edge / inner if edge == lrs[0] else edge * inner
        entries += [{**p.overrides, 'optim.lr': float(f'{new_lr:.6g}')} for p in by_lr[edge]]
  return entries
