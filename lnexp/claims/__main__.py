"""`python -m lnexp.claims [--quick|--full|--smoke] [--out DIR] [--only A,B] [--jobs N|auto] [--report-only]`.

Runs every experiment of the claims suite (resuming finished points), then
writes DIR/REPORT.md from the results. Default DIR: `experiments` for the
core suite (workdirs in experiments/results/NAME), runs/claims_SIZE otherwise.
`--jobs N` (default auto: one per CPU core on a CPU host, 1 on an
accelerator) splits each experiment into N shards and runs the shards of all
experiments, longest first, on N single-threaded processes pinned one per core.
"""
from __future__ import annotations

import sys

from lnexp.tools import host_memory
from lnexp.claims import suite
from lnexp.errors import ConfigError

USAGE = ('usage: python -m lnexp.claims [--quick|--full|--smoke] [--out DIR] '
         '[--only NAME,...] [--jobs N|auto] [--report-only]')


def parse_args(argv: list[str]) -> dict:
  args = {'size': 'core', 'out': None, 'only': None, 'report_only': False,
          'jobs': 'auto'}
  it = iter(argv)
  for arg in it:
    if arg in ('--quick', '--full', '--smoke'):
      args['size'] = arg[2:]
    elif arg == '--report-only':
      args['report_only'] = True
    elif arg in ('--out', '--only', '--jobs'):
      value = next(it, None)
      if value is None:
        raise ConfigError(f'{arg} needs a value; {USAGE}')
      args[arg[2:]] = value
    else:
      raise ConfigError(f'unexpected argument {arg!r}; {USAGE}')
  if args['jobs'] != 'auto' and not (args['jobs'].isdigit() and int(args['jobs']) > 0):
    raise ConfigError(f"--jobs {args['jobs']}: expected a positive integer or auto")
  if args['only'] is not None:
    args['only'] = args['only'].split(',')
    unknown = sorted(set(args['only']) - set(suite.EXPERIMENTS))
    if unknown:
      raise ConfigError(f'--only: unknown experiment {unknown[0]!r}; known: '
                        f'{", ".join(suite.EXPERIMENTS)}')
  return args


def main(argv: list[str] | None = None) -> int:
  try:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    jobs = suite.auto_jobs() if args['jobs'] == 'auto' else int(args['jobs'])
    suite.run_suite(args['size'], args['out'], args['only'], args['report_only'],
                    jobs=jobs)
  except ConfigError as e:
    print(f'lnexp.claims: error: {e}', file=sys.stderr)
    return 2
  return 0


if __name__ == '__main__':
  host_memory.keep_step_memory('lnexp.claims')
  sys.exit(main())
