"""Pre-registered rules (lnexp.claims.rules): blocks, hashes, commits, the report's citation."""
import json
import os
import shutil
import subprocess

import pytest

from lnexp.claims import catalog, rules
from lnexp.claims.catalog import CHECKOUT_EXPERIMENTS, workdir
from lnexp.errors import ConfigError

REPO = os.path.dirname(CHECKOUT_EXPERIMENTS)
RUNS = catalog.runs()


def _git(cwd, *args):
  return subprocess.run(['git', '-c', 'user.name=t', '-c', 'user.email=t@t', *args],
                        cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def _in_git_checkout() -> bool:
  return subprocess.run(['git', '-C', REPO, 'rev-parse', 'HEAD'],
                        capture_output=True).returncode == 0


@pytest.mark.parametrize('name', RUNS)
def test_each_experiment_marks_its_rule_without_changing_its_text(name):
  with open(RUNS[name].path) as f:
    source = f.read()
  found = rules.blocks(source)
  if not RUNS[name].judged:  # a tuning stage: its selection is its confirm stage's rule
    assert rules.hashes(RUNS[name].rules_path) == {}
    assert 'No verdict on the tune stage' in ' '.join(source.split())
    return
  assert found, f'{name}: no "--- rule ID ---" block'
  # Nothing but rule blocks follows the first marker: the report, which quotes
  # the blocks, quotes every line of the rule's prose.
  doc = rules.docstring(source)
  tail = doc[doc.index('--- rule '):].split('\n')
  prose = '\n'.join(line for line in tail
                    if not rules.START.match(line.strip()) and line.strip() != rules.END)
  assert prose.strip('\n') == rules.rule_text(source)
  assert rules.rule_text(source).startswith(('Verdict rule', 'Rule'))


def _check_recorded(path, wd, name):
  """The assertion of the test below, on any experiment file and workdir."""
  record = rules.load(wd)
  assert record is not None, f'{wd}/rules.json is missing'
  assert rules.changed(path, record) == [], (
      f'the rule of {name} changed after its results; rules never change after their '
      'results: restore it, or rerun the experiment under the new rule')
  return record


@pytest.mark.parametrize('name', RUNS)
def test_committed_results_carry_the_hash_of_their_rule(name):
  """Fails when a rule was edited after the results it judged were committed."""
  path, wd = RUNS[name].rules_path, workdir(CHECKOUT_EXPERIMENTS, name)
  if not os.path.isfile(os.path.join(wd, 'results.jsonl')):
    pytest.skip(f'{name} has no committed results')
  record = _check_recorded(path, wd, name)
  if not _in_git_checkout():
    return
  for rule_id, entry in record['rules'].items():
    assert entry['commit'], f'{name}: rule {rule_id} was not committed before its run'
    # the cited commit holds this very text, and precedes the results
    source = _git(REPO, 'show', f'{entry["commit"]}:experiments/{RUNS[name].stem}.py')
    assert entry['text'] in rules._rule_texts(source), (name, rule_id)
    if 'results_commit' in record:  # backfilled records name the results' commit
      assert entry['commit'] != record['results_commit']
      assert subprocess.run(['git', '-C', REPO, 'merge-base', '--is-ancestor',
                             entry['commit'], record['results_commit']]).returncode == 0


def _copy(tmp_path, name='mechanism'):
  """A temp copy of an experiment file and its committed rules.json."""
  path = tmp_path / f'{name}.py'
  shutil.copy(RUNS[name].path, path)
  wd = tmp_path / 'results' / name
  wd.mkdir(parents=True)
  shutil.copy(os.path.join(workdir(CHECKOUT_EXPERIMENTS, name), 'rules.json'), wd)
  return path, wd


def test_a_rule_edited_after_its_results_is_caught_and_runtimes_are_free(tmp_path):
  path, wd = _copy(tmp_path)
  record = rules.load(str(wd))
  assert rules.changed(str(path), record) == []
  text = path.read_text()
  # Runtimes and other prose outside the block: free to change.
  path.write_text(text.replace("RUNTIME = ('30 points", "RUNTIME = ('31 points").replace(
      'at an edge, twice at most), 5', 'at an edge, two times at most), 5'))
  assert path.read_text() != text and rules.changed(str(path), record) == []
  # Reflowing the rule (whitespace only) keeps its hash.
  path.write_text(text.replace('minimum effect delta = 0.03 nats',
                               'minimum effect delta =\n0.03 nats'))
  assert path.read_text() != text and rules.changed(str(path), record) == []
  # One word of the rule: caught, the report says so, resuming is refused.
  path.write_text(text.replace('minimum effect delta = 0.03 nats',
                               'minimum effect delta = 0.02 nats'))
  assert rules.changed(str(path), record) == ['claim-13-v4']
  assert 'edited after the run' in rules.citation(str(path), str(wd), 'rules.json')
  (wd / 'results.jsonl').write_text('{"point_id": "x"}\n')
  with pytest.raises(ConfigError, match='claim-13-v4 .* changed after results'):
    rules.record(str(path), str(wd), 'mechanism')
  # ... and the committed-results test above fails on it:
  with pytest.raises(AssertionError, match='changed after its results'):
    _check_recorded(str(path), str(wd), 'mechanism')


def test_malformed_markers_are_errors():
  def src(doc):
    return f'"""{doc}"""\n'
  assert rules.blocks(src('A.\n\n--- rule r1 ---\nRule: x.\n--- end rule ---\n')) == {
      'r1': 'Rule: x.'}
  for doc, message in [('--- rule r1 ---\nRule: x.\n', 'not closed'),
                       ('--- end rule ---\n', 'without an open rule'),
                       ('--- rule a ---\n--- rule b ---\n', 'opens inside'),
                       ('--- rule a ---\nx\n--- end rule ---\n--- rule a ---\ny\n'
                        '--- end rule ---\n', 'twice'),
                       ('--- rule a ---\n\n--- end rule ---\n', 'empty'),
                       ('--- rule: a b ---\nx\n', 'malformed')]:
    with pytest.raises(ValueError, match=message):
      rules.blocks(src(doc))


def test_fixed_in_is_the_commit_that_gave_the_rule_its_wording(tmp_path):
  _git(tmp_path, 'init', '-q')
  exp = tmp_path / 'e.py'

  def commit(doc, message):
    exp.write_text(f'"""{doc}"""\n')
    _git(tmp_path, 'add', 'e.py')
    _git(tmp_path, 'commit', '-q', '-m', message)
    return _git(tmp_path, 'rev-parse', 'HEAD')

  rule = 'Verdict rule, fixed before running: supported if\nA < B in every seed.'
  first = commit(f'E.\n\nAbout 5 minutes.\n\n--- rule r ---\n{rule}\n--- end rule ---\n',
                 'rule')
  commit(f'E.\n\nAbout 9 minutes.\n\n--- rule r ---\n{rule}\n--- end rule ---\n',
         'runtime only')
  marked = (f'E.\n\nAbout 9 minutes.\n\n--- rule r ---\n{rule.replace(chr(10), " ")}\n'
            '--- end rule ---\n')
  commit(marked, 'reflowed only')
  assert rules.fixed_in(str(exp), rule) == first
  assert rules.current(str(exp))['r']['commit'] == first
  edited = marked.replace('A < B', 'A < 2 B')
  second = commit(edited, 'rule edited')
  assert rules.current(str(exp))['r']['commit'] == second
  exp.write_text(f'"""{edited.replace("every seed", "most seeds")}"""\n')  # not committed
  assert rules.current(str(exp))['r']['commit'] is None
  wd = tmp_path / 'wd'
  record = rules.record(str(exp), str(wd), 'e')
  assert rules.uncommitted(record) == ['r']
  assert 'not committed in git' in rules.citation(str(exp), str(wd), 'rules.json')
  untracked = tmp_path / 'u.py'
  untracked.write_text(exp.read_text())
  assert rules.fixed_in(str(untracked), edited) is None


def test_record_then_citation(tmp_path):
  path, committed = _copy(tmp_path)
  commit = rules.load(str(committed))['rules']['claim-13-v4']['commit']
  assert rules.citation(str(path), str(committed), 'x') == (
      f'**Rule, as fixed in commit `{commit[:7]}` before the run:**')
  wd = tmp_path / 'fresh'
  assert rules.citation(str(path), str(wd), 'x') == '**Rule, as stated before the run:**'
  record = rules.record(str(path), str(wd), 'mechanism')
  saved = json.loads((wd / 'rules.json').read_text())
  assert saved == record and set(saved['rules']) == {'claim-13-v4'}
  assert saved['rules']['claim-13-v4']['sha256'] == rules.hashes(str(path))['claim-13-v4']
  # The copy lies outside git: no commit fixed it there, and the report says so.
  assert saved['rules']['claim-13-v4']['commit'] is None
  assert 'not committed in git' in rules.citation(str(path), str(wd), 'x')
  # Restarting before any result, or resuming after some, with an unchanged rule
  # keeps the first record (its time is when the rules were first recorded).
  saved['recorded'] = 'earlier'
  (wd / 'rules.json').write_text(json.dumps(saved))
  record = rules.record(str(path), str(wd), 'mechanism')
  assert record['recorded'] == 'earlier'
  (wd / 'results.jsonl').write_text('{"point_id": "x"}\n')
  assert rules.record(str(path), str(wd), 'mechanism') == record
