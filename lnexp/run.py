"""`python -m lnexp.run --config configs/NAME.py[:ARG] [--workdir DIR] [--config.KEY=VALUE ...]`.

Runs what the config file defines (one point, or its `get_sweep()`), resuming
a partial run in the same workdir. `--help` lists every flag and config key.
"""
from __future__ import annotations

import difflib
import sys
import time

from absl import flags

from lnexp import cli
from lnexp import config as config_lib
from lnexp.errors import ConfigError

PROG = 'lnexp.run'


class ConfigFileParser(flags.ArgumentParser):
  """`--config FILE.py[:ARG]` -> the loaded `lnexp.config.ConfigFile`, each
  spec executed once (`define_flags` loads it first, absl's parse gets it back)."""

  def __init__(self):
    self.loaded = {}

  def parse(self, argument):
    if argument not in self.loaded:
      self.loaded[argument] = config_lib.load_config_file(argument)
    return self.loaded[argument]

  def flag_type(self) -> str:
    return 'config file'


def _config_spec(argv: list[str]) -> str | None:
  """The value of --config on the command line, if any."""
  spec = None
  for i, arg in enumerate(argv):
    name, eq, value = arg.lstrip('-').partition('=')
    if name == 'config' and (eq or i + 1 < len(argv)):
      spec = value if eq else argv[i + 1]
  return spec


def _check_keys(argv: list[str], known) -> None:
  """Every --config.KEY exists, or one line that suggests the closest key."""
  for arg in argv:
    if arg.startswith(('--config.', '-config.')):
      key = arg.split('=', 1)[0].split('.', 1)[1]
      if key not in known:
        close = difflib.get_close_matches(key, known, n=1)
        raise ConfigError(f'unknown config key {key!r}' + (
            f'; did you mean {close[0]!r}?' if close else ' (see --help)'))


def _key_flag(key: str, default) -> flags.Flag:
  """A typed flag `--config.KEY` (not listed by absl's help: `config_keys_help`)."""
  name = f'config.{key}'
  if isinstance(default, bool):
    return flags.BooleanFlag(name, None, '')
  parser = {int: flags.IntegerParser, float: flags.FloatParser}.get(
      type(default), flags.ArgumentParser)()
  return flags.Flag(parser, flags.ArgumentSerializer(), name, None, '')


def define_flags(fv: flags.FlagValues, argv: list[str]) -> None:
  """The flags; the config file's keys become typed `--config.KEY` flags."""
  parser = ConfigFileParser()
  spec = _config_spec(argv)
  base = parser.parse(spec).base if spec else config_lib.base_config()
  known = config_lib.flatten(base)
  _check_keys(argv, known)
  for key, default in known.items():
    fv[f'config.{key}'] = _key_flag(key, default)
  flags.DEFINE(parser, 'config', None, 'Config file FILE.py[:ARG] with get_config() (and '
               'get_sweep()); override any key with --config.KEY=VALUE.', flag_values=fv)
  flags.DEFINE_string('workdir', None, 'Run directory (default runs/<config name>); '
                      'rerunning with the same one resumes.', flag_values=fv)
  flags.DEFINE_string('shard', None, 'I/N: run the I-th of N slices of the groups.',
                      flag_values=fv)
  flags.DEFINE_integer('host_devices', None, 'Split the CPU into N JAX devices.',
                       lower_bound=1, flag_values=fv)
  flags.DEFINE_boolean('multihost', False, 'Call jax.distributed.initialize '
                       '(TPU pods, SLURM, or the flags below).', flag_values=fv)
  flags.DEFINE_string('coordinator', None, 'HOST:PORT of process 0 (multihost).',
                      flag_values=fv)
  flags.DEFINE_integer('num_processes', None, 'Processes in the job (multihost).',
                       lower_bound=1, flag_values=fv)
  flags.DEFINE_integer('process_id', None, 'This process (multihost).', lower_bound=0,
                       flag_values=fv)
  flags.DEFINE_integer('init_timeout', 60, 'Seconds to wait for the coordinator.',
                       lower_bound=1, flag_values=fv)
  flags.DEFINE_boolean('wait_for_lock', False, 'If another process runs this workdir '
                       '(and shard), wait for it instead of exiting.', flag_values=fv)
  flags.DEFINE_boolean('check', False, 'Check the config, overrides and data and plan the '
                       'groups, then exit without running or writing anything.',
                       flag_values=fv)
  flags.DEFINE_boolean('checkpoint_on_sigterm', True, 'On SIGTERM (preemption), finish '
                       'the step and checkpoint it before exiting 143; off when the grace '
                       'period is too short to write one.', flag_values=fv)


def parse_shard(text: str) -> tuple[int, int]:
  """'I/N' -> (I, N), 0 <= I < N: run the I-th of N slices of the groups."""
  index, slash, count = text.partition('/')
  if not (slash and index.isdigit() and count.isdigit()) or not \
      0 <= int(index) < int(count):
    raise ConfigError(f'--shard={text}: expected I/N with 0 <= I < N (e.g. 0/4)')
  return int(index), int(count)


def set_host_devices(count: int) -> None:
  """Splits the CPU into `count` JAX devices (other backends ignore it)."""
  import jax
  try:
    jax.config.update('jax_num_cpu_devices', count)
  except RuntimeError:
    raise ConfigError('--host_devices must be given before JAX starts in this process '
                      "(in a notebook: jax.config.update('jax_num_cpu_devices', N) right "
                      'after `import jax`)') from None


def config_keys_help() -> str:
  """Every config key with its default, allowed values and meaning, for --help."""
  from lnexp.models import validate  # the registries: only --help needs them
  meaning = config_lib.descriptions()
  lines = ['Config keys (--config.KEY=VALUE):']
  for key, value in config_lib.flatten(config_lib.base_config()).items():
    allowed = validate.CHOICES.get(key)
    lines.append(f'  {key} = {value!r}' + (f'  (one of: {", ".join(allowed)})'
                                          if allowed else ''))
    if meaning.get(key):
      lines.append(f'      {meaning[key]}')
  return '\n'.join(lines)


def overrides(fv: flags.FlagValues) -> dict:
  """The --config.KEY values given on the command line (or in a --flagfile)."""
  return {name.split('.', 1)[1]: fv[name].value for name in fv
          if name.startswith('config.') and fv[name].present}


def run(fv: flags.FlagValues, args: list[str]) -> int:
  from lnexp.train.sweep import train_and_evaluate  # jax, orbax: not for --help
  if fv.config is None:
    raise ConfigError('--config is required (e.g. --config configs/default.py)')
  t0 = time.time()
  shard = parse_shard(fv.shard) if fv.shard is not None else None
  if fv.host_devices:
    set_host_devices(fv.host_devices)
  if fv.multihost:
    from lnexp.runtime import distributed
    distributed.initialize(fv.coordinator, fv.num_processes, fv.process_id,
                           fv.init_timeout)
  if fv.check:  # what lnexp.launch runs locally before it spends anything
    from lnexp.train.sweep import plan_run
    plan = plan_run(fv.config, overrides(fv), fv.workdir)
    print(f'{PROG}: {len(plan.points)} points in {len(plan.groups)} groups check out '
          f'(--check: nothing run); workdir {plan.workdir}')
    return 0
  try:
    train_and_evaluate(fv.config, overrides(fv), fv.workdir, shard=shard,
                       wait_for_lock=fv.wait_for_lock,
                       checkpoint_on_term=fv.checkpoint_on_sigterm)
  except RuntimeError as e:  # XLA's out-of-memory is a RuntimeError subclass
    if 'RESOURCE_EXHAUSTED' not in str(e) and 'out of memory' not in str(e).lower():
      raise
    print(f'{PROG}: error: out of memory running a group; set '
          '--config.train.max_lanes_per_program to fewer lanes (finished points are '
          'kept; rerun the same command with it to resume)', file=sys.stderr)
    return 1
  print(f'{PROG}: done in {time.time() - t0:.1f}s')
  return 0


def main(argv: list[str] | None = None) -> int:
  return cli.main(PROG, define_flags, run, argv, extra_help=config_keys_help)


if __name__ == '__main__':
  from lnexp.runtime import host_memory
  host_memory.keep_step_memory(PROG)
  sys.exit(main())
