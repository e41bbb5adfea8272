"""The claims suite's experiments: the files of the experiments folder that define
`get_config`, found rather than listed, and the records they declare. What
such a file holds (CLAIMS, QUOTES, analyse, ORDER, STAGES, VERSION, ...):
experiments/README.md.
"""
from __future__ import annotations

import dataclasses
import glob
import importlib.util
import os
import re
import types
from typing import NamedTuple

from lnexp.errors import ConfigError

# In a source checkout, the repository's experiments/ (elsewhere: --experiments DIR).
CHECKOUT_EXPERIMENTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'experiments')


class Claim(NamedTuple):
  """A section of the report: its title and the article's words it quotes."""
  title: str
  quote: str  # verbatim ('[...]' marks a cut)


class Quote(NamedTuple):
  """One claim of the seed article, verbatim (whitespace aside), and what decides it."""
  text: str
  finding: str | None = None  # the verdict that decides it ('1', '2-lit'); None: untested
  note: str = ''              # where the article is wrong or loose
  reason: str = ''            # why it is not tested (finding None)


class Change(NamedTuple):
  """A metric or rule changed since v3 (guide: no metric shopping), for the report."""
  what: str    # the metric or rule, e.g. 'claim 2: failed runs'
  v3: str      # as it was
  v4: str      # as it is
  reason: str  # why it changed (the finding or review that showed the need)


def claim_key(finding: str) -> str:
  """The claim a finding belongs to: a literature check '2-lit' sits in claim 2."""
  return finding.partition('-')[0]


def claim_order(key: str) -> tuple[int, str]:
  """'1' < '1b' < '2' < ... < '10' < '10b'."""
  return int(re.match(r'\d+', key)[0]), key


@dataclasses.dataclass(frozen=True)
class Run:
  """One workdir of the suite: an experiment file, or one stage of a two-stage file."""
  name: str                    # its workdir: OUT/results/NAME
  path: str                    # the experiment file
  module: types.ModuleType
  tuned_by: str | None = None  # the run whose workdir its config argument names
  judged: bool = True          # the file's rules and analysis apply to its results

  @property
  def stem(self) -> str:
    return os.path.splitext(os.path.basename(self.path))[0]

  @property
  def rules_path(self) -> str | None:
    """Where its rules are (lnexp.claims.rules); None for a tuning stage."""
    return self.path if self.judged else None

  def spec(self, size: str, out: str) -> str:
    """The `--config` of lnexp.run: 'FILE:SIZE', or 'FILE:SIZE@TUNING_WORKDIR'."""
    return f'{self.path}:{size}' + (f'@{workdir(out, self.tuned_by)}' if self.tuned_by
                                    else '')


def workdir(out: str, name: str) -> str:
  return os.path.join(out, 'results', name)


def load(path: str) -> types.ModuleType:
  """A file of the experiments folder as a module (the folder is not a package)."""
  name = os.path.splitext(os.path.basename(path))[0]
  spec = importlib.util.spec_from_file_location(f'lnexp_experiments_{name}', path)
  module = importlib.util.module_from_spec(spec)
  try:
    spec.loader.exec_module(module)
  except Exception as e:  # an experiment file is user code: report, do not trace
    raise ConfigError(f'{path} failed to load: {type(e).__name__}: {e}') from None
  return module


SUITES = ('claims', 'normbench')  # a file's SUITE; claims when absent


def runs(experiments: str = CHECKOUT_EXPERIMENTS, suite: str | None = 'claims') -> dict[str, Run]:
  """Every run of the folder's experiments of `suite` (None: of every suite) by
  name, in suite order: first stages by ORDER, then the stages that read a
  tuning stage's results."""
  modules = [load(p) for p in sorted(glob.glob(os.path.join(experiments, '*.py')))]
  modules = sorted((m for m in modules if hasattr(m, 'get_config') and
                    suite in (None, getattr(m, 'SUITE', 'claims'))),
                   key=lambda m: getattr(m, 'ORDER', float('inf')))
  first, later = [], []
  for m in modules:
    stages = getattr(m, 'STAGES', None)
    if stages:
      tune, confirm = stages
      first.append(Run(tune, m.__file__, m, judged=False))
      later.append(Run(confirm, m.__file__, m, tuned_by=tune))
    else:
      first.append(Run(os.path.splitext(os.path.basename(m.__file__))[0], m.__file__, m))
  return {r.name: r for r in first + later}
