"""Runs the claims suite's experiments into workdirs, then writes the report."""
from __future__ import annotations

import os
import sys
import time

from lnexp import flops
from lnexp.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Cheapest first, so a cut-short suite still has whole experiments.
EXPERIMENTS = ('gradient_scaling', 'depth', 'generalization', 'batchnorm_text',
               'hyperparams', 'lr_sensitivity', 'lstm_covariate_shift', 'cnn_depth')
COMPILE_S, GROUP_S = 10.0, 2.0   # first group of a structure; every group (estimates)


def default_out(size: str) -> str:
  return os.path.join(ROOT, 'experiments') if size == 'core' else os.path.join(
      'runs', f'claims_{size}')


def spec(name: str, size: str) -> str:
  return os.path.join(ROOT, 'experiments', f'{name}.py:{size}')


def workdir(out: str, name: str) -> str:
  return os.path.join(out, 'results', name)


def estimate_seconds(groups) -> float:
  """Planning estimate: model FLOPs at lnexp.flops' rate plus compile and group costs."""
  structures = {(g.config.model.to_json(), g.config.train.batch_size) for g in groups}
  return (sum(flops.estimate_seconds(g.config, len(g.points)) for g in groups)
          + COMPILE_S * len(structures) + GROUP_S * len(groups))


def release_compiled() -> None:
  """Drops every compiled program: one process runs hundreds of structures, and
  holding all of them exhausted a 24 GB machine midway through the core suite."""
  import jax
  from lnexp import program
  program._compiled.cache_clear()
  jax.clear_caches()


def run_suite(size: str, out: str | None, only: list[str] | None,
              report_only: bool, stream=None) -> str:
  """Runs (or resumes) each experiment, then writes OUT/REPORT.md; returns its path."""
  from lnexp import run as run_lib
  from lnexp.claims import report
  stream = stream or sys.stdout
  out = out or default_out(size)
  names = only or EXPERIMENTS
  if report_only and not os.path.isdir(os.path.join(out, 'results')):
    raise ConfigError(f'--report-only: {out} holds no results yet; run the suite first')
  plans = {name: run_lib.plan_run(spec(name, size), {}, workdir(out, name))
           for name in names}  # every config checked before anything runs
  total = sum(estimate_seconds(p[4]) for p in plans.values())
  print(f'lnexp.claims: {size} suite, {len(names)} experiments, '
        f'{sum(len(p[3]) for p in plans.values())} points, estimated '
        f'{total / 60:.0f} min on this machine class; out {out}', file=stream)
  if not report_only:
    for name in names:
      t0 = time.time()
      print(f'== {name}: {len(plans[name][3])} points, ~'
            f'{estimate_seconds(plans[name][4]) / 60:.1f} min', file=stream, flush=True)
      run_lib.train_and_evaluate(spec(name, size), {}, workdir(out, name), out=stream)
      release_compiled()
      print(f'== {name} done in {(time.time() - t0) / 60:.1f} min', file=stream,
            flush=True)
  path = report.write(out, size, names)
  print(f'lnexp.claims: report {path}', file=stream)
  return path
