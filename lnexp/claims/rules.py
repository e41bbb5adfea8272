"""Pre-registered verdict rules: the `--- rule ID ---` ... `--- end rule ---`
blocks of an experiment's docstring, their whitespace-blind hashes, and the
commit that fixed each, recorded before the run in RESULTS/NAME/rules.json
(docs/claims-analysis.md).
"""
from __future__ import annotations

import ast
import datetime
import hashlib
import json
import os
import re
import subprocess

from lnexp.errors import ConfigError
from lnexp.runtime import storage

START = re.compile(r'^--- rule (\S+) ---$')
END = '--- end rule ---'
RULES_JSON = 'rules.json'


def docstring(source: str) -> str:
  return ast.get_docstring(ast.parse(source)) or ''


def blocks(source: str) -> dict[str, str]:
  """{rule id: text} of the marked blocks of a module's docstring, in order."""
  found, current, lines = {}, None, []
  for n, line in enumerate(docstring(source).splitlines(), 1):
    start = START.match(line.strip())
    if start:
      if current is not None:
        raise ValueError(f'docstring line {n}: rule {start[1]!r} opens inside rule '
                         f'{current!r}')
      if start[1] in found:
        raise ValueError(f'docstring line {n}: rule {start[1]!r} appears twice')
      current, lines = start[1], []
    elif line.strip() == END:
      if current is None:
        raise ValueError(f'docstring line {n}: {END!r} without an open rule')
      text = '\n'.join(lines).strip('\n')
      if not text.strip():
        raise ValueError(f'docstring line {n}: rule {current!r} is empty')
      found[current], current = text, None
    elif current is not None:
      lines.append(line)
    elif line.strip().startswith('---') and 'rule' in line:
      raise ValueError(f'docstring line {n}: malformed rule marker {line.strip()!r} '
                       f'(expected "--- rule ID ---" or {END!r})')
  if current is not None:
    raise ValueError(f'rule {current!r} is not closed by {END!r}')
  return found


def rule_text(source: str) -> str:
  """The rule as the report quotes it: the blocks' texts."""
  return '\n\n'.join(blocks(source).values())


def normalise(text: str) -> str:
  return ' '.join(text.split())


def digest(text: str) -> str:
  return hashlib.sha256(normalise(text).encode()).hexdigest()


def _read(path: str | None) -> dict[str, str]:
  """The blocks of the file at `path`; none for None (a tuning stage judges nothing)."""
  if path is None:
    return {}
  with open(path) as f:
    return blocks(f.read())


def hashes(path: str | None) -> dict[str, str]:
  return {rule_id: digest(text) for rule_id, text in _read(path).items()}


def _git(cwd: str, *args: str) -> str | None:
  try:
    done = subprocess.run(['git', '-C', cwd, *args], capture_output=True, text=True,
                          timeout=60)
  except (OSError, subprocess.SubprocessError):
    return None
  return done.stdout if done.returncode == 0 else None


def _rule_texts(source: str) -> set[str]:
  """Every normalised rule text of a version of a file."""
  try:
    return {normalise(t) for t in blocks(source).values()}
  except (SyntaxError, ValueError):
    return set()


def fixed_in(path: str, text: str) -> str | None:
  """The oldest commit of the unbroken run, from the newest commit that touched
  `path`, that holds this rule text; None if uncommitted or outside git."""
  folder, name = os.path.split(os.path.abspath(path))
  log = _git(folder, 'log', '--format=%H', '--', name)
  if not log:
    return None
  target, fixed = normalise(text), None
  for sha in log.split():
    source = _git(folder, 'show', f'{sha}:./{name}')
    if source is None or target not in _rule_texts(source):
      break
    fixed = sha
  return fixed


def current(path: str | None) -> dict[str, dict]:
  """{rule id: {sha256, commit, text}} of the experiment file as it is now."""
  return {rule_id: {'sha256': digest(text), 'commit': fixed_in(path, text),
                    'text': normalise(text)} for rule_id, text in _read(path).items()}


def load(workdir: str) -> dict | None:
  path = os.path.join(workdir, RULES_JSON)
  if not os.path.isfile(path):
    return None
  with open(path) as f:
    return json.load(f)


def write(workdir: str, record: dict) -> str:
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, RULES_JSON)
  storage.write_text(path, json.dumps(record, indent=1, sort_keys=True) + '\n')
  return path


def changed(path: str | None, record: dict | None) -> list[str]:
  """Rule ids whose text differs between the file and the record (a rule
  present on one side only counts as changed); [] without a record."""
  if record is None:
    return []
  now, then = hashes(path), {k: v['sha256'] for k, v in record['rules'].items()}
  return sorted(k for k in set(now) | set(then) if now.get(k) != then.get(k))


def _has_results(workdir: str) -> bool:
  path = os.path.join(workdir, 'results.jsonl')
  return os.path.isfile(path) and os.path.getsize(path) > 0


def record(path: str | None, workdir: str, name: str) -> dict:
  """Before a run: writes WORKDIR/rules.json, or keeps an earlier record of the
  same rules (so a restart keeps the first time), refusing a rule edited since
  results were recorded (`path` None: no rules to judge)."""
  old, resumed = load(workdir), _has_results(workdir)
  edited = changed(path, old)
  if old is not None and not edited:
    return old
  if old is not None and resumed:
    raise ConfigError(
        f'{name}: rule {", ".join(edited)} of {path} changed after results were '
        f'recorded in {workdir} under the old text; move those results away to rerun '
        'under the new rule, or restore the rule')
  now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
  when = 'when resuming a run with results but no record' if resumed else 'before the run'
  new = {'experiment': name, 'rules': current(path), 'recorded': f'{now} by lnexp.claims {when}'}
  write(workdir, new)
  return new


def uncommitted(rec: dict) -> list[str]:
  return sorted(k for k, v in rec['rules'].items() if not v.get('commit'))


def citation(path: str, workdir: str, shown: str) -> str:
  """The report's line before a rule: the commit that fixed it, or why none."""
  rec = load(workdir)
  if rec is None or not (rec['rules'] or hashes(path)):
    return '**Rule, as stated before the run:**'
  if changed(path, rec):
    return (f'**Rule, edited after the run** (it differs from the text recorded with '
            f'the results, `{shown}`; the verdict below was not pre-registered with '
            'this wording):')
  if uncommitted(rec):
    return '**Rule, as stated before the run** (not committed in git when it ran):'
  commits = list(dict.fromkeys(v['commit'][:7] for v in rec['rules'].values()))
  s = 's' if len(commits) > 1 else ''
  return (f'**Rule, as fixed in commit{s} {", ".join(f"`{c}`" for c in commits)} before '
          'the run:**')
