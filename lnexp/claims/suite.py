"""Runs the claims suite's experiments into workdirs, then writes the report."""
from __future__ import annotations

import os
import sys
import time

from lnexp.claims import catalog, rules
from lnexp.claims.catalog import CHECKOUT_EXPERIMENTS, workdir
from lnexp.errors import ConfigError
from lnexp.runtime import plan as plan_lib
from lnexp.runtime import processes


def default_out(size: str, experiments: str) -> str:
  """The core suite's results live beside its configs; other sizes under runs/."""
  return experiments if size == 'core' else os.path.join('runs', f'claims_{size}')


def spec(name: str, size: str, experiments: str = CHECKOUT_EXPERIMENTS,
         out: str | None = None) -> str:
  """Run NAME's `--config` (lnexp.claims.catalog.Run.spec)."""
  return catalog.runs(experiments, None)[name].spec(size, out or default_out(size, experiments))


def auto_jobs() -> int:
  """Worker processes for `--jobs auto`: one per CPU core on a CPU-only host
  (at most 8), one where an accelerator runs the lanes."""
  import jax
  if jax.default_backend() != 'cpu':
    return 1
  return max(1, min(len(processes.usable_cores()), 8))


def _units(plans: dict, runs: dict, size: str, out: str,
           jobs: int) -> list[tuple[str, list[str]]]:
  """Every experiment's unfinished shards as lnexp.run units, longest first."""
  from lnexp.runtime.workdir import Workdir
  units = []
  for name, plan in plans.items():
    finished = Workdir(workdir(out, name)).finished()
    shards = processes.shard_units(
        ['--config', runs[name].spec(size, out), '--workdir', workdir(out, name)],
        jobs,
        f'{name} ')
    for i, unit in enumerate(shards):
      left = [g for g in plan_lib.shard_groups(plan.groups, i, jobs)
              if any(p.point_id not in finished for p in g.points)]
      if left:
        units.append((plan_lib.estimate_seconds(left), unit))
  return [unit for _, unit in sorted(units, key=lambda u: -u[0])]


def _stored_ids(plan, path: str) -> list[str]:
  """The plan's point ids, and those a grid extension (optim.lr_extend) added."""
  from lnexp.analysis import results
  base, points = plan.base, plan.points
  ids = [p.point_id for p in points]
  try:
    recorded = results.load_config(path)['sweep']
  except ConfigError:  # nothing ran yet
    return ids
  without_lr = lambda o: tuple(sorted((k, v) for k, v in o.items() if k != 'optim.lr'))  # noqa
  own = {without_lr(p.overrides) for p in points}
  planned = set(ids)
  for entry in recorded:
    if without_lr(entry) in own:
      pid = plan_lib.make_point(base, entry).point_id
      if pid not in planned:
        planned.add(pid)
        ids.append(pid)
  return ids


def _run_here(run: catalog.Run, size: str, out: str, stream) -> None:
  """Runs (or resumes) one experiment in this process."""
  from lnexp.train import program
  from lnexp.train import sweep as run_lib
  run_lib.train_and_evaluate(run.spec(size, out), {}, workdir(out, run.name), out=stream)
  program.release()  # hundreds of structures in one process exhausted a 24 GB machine


def _extend(plans: dict, runs: dict, size: str, out: str, stream) -> None:
  """The grid extensions (optim.lr_extend): they read every shard's rows, so
  they run here, unsharded, after the pool."""
  for name, plan in plans.items():
    if plan_lib.extends(plan.points):
      _run_here(runs[name], size, out, stream)


def _run(plans: dict, runs: dict, size: str, out: str, jobs: int, stream) -> None:
  """Runs (or resumes) the planned experiments: sharded on `jobs` processes, or here."""
  if jobs > 1:
    processes.run_pool(_units(plans, runs, size, out, jobs), jobs, stream)
    _extend(plans, runs, size, out, stream)
    return
  for name, plan in plans.items():
    t1 = time.time()
    print(f'== {name}: {len(plan.points)} points, ~'
          f'{plan_lib.estimate_seconds(plan.groups) / 60:.1f} min', file=stream, flush=True)
    _run_here(runs[name], size, out, stream)
    print(f'== {name} done in {(time.time() - t1) / 60:.1f} min', file=stream, flush=True)


def run_suite(size: str, out: str | None, only: list[str] | None,
              report_only: bool, stream=None, jobs: int = 1,
              experiments: str = CHECKOUT_EXPERIMENTS, suite: str = 'claims') -> str:
  """Records each experiment's rules (lnexp.claims.rules), runs (or resumes) the
  experiments of `suite`, then writes OUT/REPORT.md (or OUT/NORMBENCH.md);
  returns its path. jobs > 1: all experiments' shards, longest first, on
  `jobs` processes, so no core waits for another experiment's last shard."""
  from lnexp.claims import writeup
  from lnexp.train import sweep as run_lib
  stream = stream or sys.stdout
  runs = catalog.runs(experiments, suite) if os.path.isdir(experiments) else {}
  if not runs:
    raise ConfigError(f'no {suite} experiments in {experiments} (pass --experiments DIR, '
                      "the repository's experiments/ folder)")
  unknown = sorted(set(only or ()) - set(runs))
  if unknown:
    raise ConfigError(f'--only: unknown experiment {unknown[0]!r}; known: '
                      f'{", ".join(runs)}')
  out = out or default_out(size, experiments)
  names = only or [n for n, r in runs.items()
                   if size != 'accel' or getattr(r.module, 'ACCEL', False)]
  if report_only and not os.path.isdir(os.path.join(out, 'results')):
    raise ConfigError(f'--report_only: {out} holds no results yet; run the suite first')
  first = [n for n in runs if n in names and not runs[n].tuned_by]
  second = [n for n in runs if n in names and runs[n].tuned_by]

  def plan_stage(stage):
    return {n: run_lib.plan_run(runs[n].spec(size, out), {}, workdir(out, n)) for n in stage}
  plans = plan_stage(first)  # every config checked before anything runs
  total = sum(plan_lib.estimate_seconds(p.groups) for p in plans.values())
  print(f'lnexp.claims: {size} {suite} suite, {len(names)} experiments, '
        f'{sum(len(p.points) for p in plans.values())} points, estimated '
        f'{total / 60:.0f} min of one process on this machine class (~'
        f'{total / 60 / jobs:.0f} min with {jobs} job(s)); out {out}'
        + (f'; then {", ".join(second)}, planned from its tuning' if second else ''),
        file=stream)
  if not report_only:
    for name in first + second:  # the rules as they stand before any result
      recorded = rules.record(runs[name].rules_path, workdir(out, name), name)
      if rules.uncommitted(recorded):
        print(f'lnexp.claims: warning: {name}\'s rule {", ".join(rules.uncommitted(recorded))} '
              'is not committed in git: commit it before the run to pre-register it',
              file=stream)
    t0 = time.time()
    _run(plans, runs, size, out, jobs, stream)
    plans.update(later := plan_stage(second))
    _run(later, runs, size, out, jobs, stream)
    print(f'lnexp.claims: ran in {(time.time() - t0) / 60:.1f} min', file=stream,
          flush=True)
  else:
    for name in second:  # planned from its tuning stage's rows, if that ran
      try:
        plans.update(plan_stage([name]))
      except ConfigError:
        plans[name] = None
  ids = {name: _stored_ids(plan, workdir(out, name)) if plan else []
         for name, plan in plans.items()}
  path = (writeup.write(out, size, ids, runs, experiments) if suite == 'claims' else
          writeup.write_board(out, suite, ids, runs))
  print(f'lnexp.claims: report {path}', file=stream)
  return path
