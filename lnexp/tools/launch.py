"""`python -m lnexp.launch tpu --name NAME --zone ZONE [--accelerator v4-32] -- RUN_ARGS`.

Composes the `gcloud compute tpus tpu-vm` commands that copy this checkout to
every worker of a TPU VM, install it, start `lnexp.run RUN_ARGS --multihost`
on all workers at once (jax.distributed finds the other hosts itself on TPU
VMs), and fetch the workdir back from worker 0 (the process that writes
results). Prints them, and runs them unless `--dry-run`; lnexp.run does the work.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys

from lnexp.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REMOTE_DIR = 'lnexp'
USAGE = ('usage: python -m lnexp.launch tpu --name NAME --zone ZONE [--accelerator v4-32] '
         '[--create] [--dry-run] -- RUN_ARGS (with --workdir DIR)')


def tpu_commands(name: str, zone: str, accelerator: str, run_args: list[str],
                 create: bool = False, root: str = ROOT) -> list[list[str]]:
  """The gcloud commands, in order, as argument lists."""
  if '--workdir' not in run_args[:-1]:
    raise ConfigError('the run arguments need --workdir DIR (to fetch it back); ' + USAGE)
  workdir = run_args[run_args.index('--workdir') + 1]
  tpu, where = ['gcloud', 'compute', 'tpus', 'tpu-vm'], [f'--zone={zone}']
  run = shlex.join(['python3', '-m', 'lnexp.run', *run_args, '--multihost'])
  install = "python3 -m pip install -q -e . 'jax[tpu]'"
  commands = [[*tpu, 'create', name, *where, f'--accelerator-type={accelerator}',
               '--version=tpu-ubuntu2204-base']] if create else []
  return commands + [
      [*tpu, 'scp', '--recurse', root, f'{name}:~/{REMOTE_DIR}', *where, '--worker=all'],
      [*tpu, 'ssh', name, *where, '--worker=all', '--command',
       f'cd ~/{REMOTE_DIR} && {install} && {run}'],
      [*tpu, 'scp', '--recurse', f'{name}:~/{REMOTE_DIR}/{workdir}',
       os.path.dirname(os.path.abspath(workdir)), *where, '--worker=0'],
  ]


class _Parser(argparse.ArgumentParser):
  def error(self, message):
    raise ConfigError(f'{message}; {USAGE}')


def main(argv: list[str] | None = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  split = argv.index('--') if '--' in argv else len(argv)
  parser = _Parser(prog='python -m lnexp.launch')
  parser.add_argument('platform', choices=['tpu'])
  parser.add_argument('--name', required=True)
  parser.add_argument('--zone', required=True)
  parser.add_argument('--accelerator', default='v4-32')
  parser.add_argument('--create', action='store_true', help='create the TPU VM first')
  parser.add_argument('--dry-run', action='store_true', help='print, do not run')
  try:
    args = parser.parse_args(argv[:split])
    commands = tpu_commands(args.name, args.zone, args.accelerator, argv[split + 1:],
                            args.create)
    if not args.dry_run and shutil.which('gcloud') is None:
      raise ConfigError('gcloud is not on PATH: install the Google Cloud SDK, or pass '
                        '--dry-run to print the commands')
  except ConfigError as e:
    print(f'lnexp.launch: error: {e}', file=sys.stderr)
    return 2
  for command in commands:
    print(shlex.join(command), flush=True)
    if not args.dry_run and subprocess.run(command).returncode:
      print(f'lnexp.launch: error: command failed: {shlex.join(command)}', file=sys.stderr)
      return 1
  return 0
