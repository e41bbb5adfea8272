"""`python -m lnexp.claims [--suite claims|normbench] [--size core|quick|full|smoke|accel]
[--out DIR] [--only A,B] [--jobs N|auto] [--report_only] [--experiments DIR]`.

Runs (resumes) every experiment of the suite, then writes DIR/REPORT.md
(lnexp.claims.suite).
"""
from __future__ import annotations

import sys

from absl import flags

from lnexp import cli
from lnexp.claims import catalog, suite
from lnexp.errors import ConfigError

SIZES = ('core', 'quick', 'full', 'smoke', 'accel')


def define_flags(fv: flags.FlagValues, argv: list[str]) -> None:
  flags.DEFINE_enum('size', 'core', SIZES, 'Suite size.', flag_values=fv)
  flags.DEFINE_enum('suite', 'claims', catalog.SUITES, 'claims: the seed article\'s claims '
                    '(REPORT.md); normbench: the normalization benchmark (NORMBENCH.md).',
                    flag_values=fv)
  for size in SIZES[1:]:
    flags.DEFINE_boolean(size, False, f'Same as --size={size}.', flag_values=fv)
  flags.DEFINE_string('out', None, 'Output folder (default: the experiments folder for '
                      'the core suite, runs/claims_SIZE otherwise).', flag_values=fv)
  flags.DEFINE_list('only', None, 'Experiments to run, by their results folder '
                    '(experiments/NAME.py; a two-stage file: each stage\'s).', flag_values=fv)
  flags.DEFINE_string('jobs', 'auto', 'Worker processes: a positive integer or auto.',
                      flag_values=fv)
  flags.DEFINE_boolean('report_only', False, 'Only rewrite the report from the results.',
                       flag_values=fv)
  flags.DEFINE_string('experiments', catalog.CHECKOUT_EXPERIMENTS, "The suite's configs "
                      "(the repository's experiments/ folder).", flag_values=fv)


def claims(fv: flags.FlagValues, args: list[str]) -> None:
  size = next((s for s in SIZES[1:] if fv[s].value), fv.size)
  if fv.jobs != 'auto' and not (fv.jobs.isdigit() and int(fv.jobs) > 0):
    raise ConfigError(f'--jobs={fv.jobs}: expected a positive integer or auto')
  jobs = suite.auto_jobs() if fv.jobs == 'auto' else int(fv.jobs)
  suite.run_suite(size, fv.out, fv.only, fv.report_only, jobs=jobs,
                  experiments=fv.experiments, suite=fv.suite)


def main(argv: list[str] | None = None) -> int:
  return cli.main('lnexp.claims', define_flags, claims, argv)


if __name__ == '__main__':
  from lnexp.runtime import host_memory
  host_memory.keep_step_memory('lnexp.claims')
  sys.exit(main())
