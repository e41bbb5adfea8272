"""absl flags for every entry point, with lnexp's error contract.

Each call parses into a fresh `FlagValues` (`main(argv)` can run many times).
Bad input is one line on stderr and exit 2; an interrupt one line and exit 130
(SIGTERM: 143).
"""
from __future__ import annotations

import sys
from typing import Callable

from absl import flags

from lnexp.errors import ConfigError

DefineFlags = Callable[[flags.FlagValues, list[str]], None]
Body = Callable[[flags.FlagValues, list[str]], 'int | None']


def _one_line(text) -> str:
  lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
  return ' '.join(lines[:2]) if lines else 'error'


def parse(prog: str, define: DefineFlags, argv: list[str], positional: str | None = None,
          extra_help: Callable[[], str] | None = None):
  """(flags, positional args), or None after printing help; ConfigError if bad.
  positional: the usage line's name for positional arguments (None: none allowed)."""
  fv = flags.FlagValues()
  define(fv, argv)
  flags.DEFINE_boolean('help', False, 'Show this help and exit.', flag_values=fv,
                       short_name='h')
  try:
    rest = fv([prog, *argv])[1:]
  except flags.Error as e:
    raise ConfigError(_one_line(e)) from None
  if fv['help'].value:
    print(f'usage: python -m {prog} [flags] {positional or ""}\n\n{fv.get_help()}')
    if extra_help:
      print(extra_help())
    return None
  if rest and positional is None:
    raise ConfigError(f'unexpected argument {rest[0]!r} (see --help)')
  return fv, rest


def main(prog: str, define: DefineFlags, body: Body, argv: list[str] | None = None,
         positional: str | None = None, extra_help: Callable[[], str] | None = None
         ) -> int:
  """Parses flags and runs `body(flags, positional args)`; exits 0 done, 2 bad
  input, 130 interrupted, 143 terminated, or body's own code."""
  argv = sys.argv[1:] if argv is None else list(argv)
  try:
    parsed = parse(prog, define, argv, positional, extra_help)
    if parsed is None:
      return 0
    return body(*parsed) or 0
  except ConfigError as e:
    print(f'{prog}: error: {_one_line(e)}', file=sys.stderr)
    return 2
  except KeyboardInterrupt as e:  # SIGTERM's carries exit_code 143
    print(f'{prog}: {str(e) or "interrupted"}; rerun the same command to resume',
          file=sys.stderr)
    return getattr(e, 'exit_code', 130)
