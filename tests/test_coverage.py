"""The coverage table (the experiment files' QUOTES and experiments/coverage.py):
every section of the article has a row, every quote is verbatim, every row
names a real experiment and verdict or says why it is not tested; the report
renders it with verdicts."""
from __future__ import annotations

import os
import re

import pytest

from lnexp.claims import catalog, evidence, writeup

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARTICLE = os.path.join(REPO, 'experiments', 'seed-article.txt')  # a copy, checked below
SHARED = os.path.join(REPO, '..', 'shared', 'seed', 'layer-normalization-albertagpt.txt')
COVERAGE = os.path.join(REPO, 'experiments', 'coverage.py')
RUNS = catalog.runs()
ROWS, HEADINGS = writeup.coverage(RUNS, COVERAGE)
CLAIMS = {key: claim for key, (_, claim) in writeup.claims(RUNS).items()}


def _normalise(text: str) -> str:
  return ' '.join(text.split())


@pytest.fixture(scope='module')
def article() -> str:
  with open(ARTICLE, encoding='utf-8') as f:
    return f.read()


def test_the_repository_copy_is_the_seed_article(article):
  if not os.path.isfile(SHARED):  # a clone without the shared folder beside it
    pytest.skip(f'no shared seed article at {SHARED} to compare with')
  with open(SHARED, encoding='utf-8') as f:
    assert f.read() == article


def test_headings_are_the_articles_lines_in_order(article):
  lines = [line.strip() for line in article.splitlines()]
  at = [lines.index(h) for h in HEADINGS]  # ValueError: not a line
  assert at == sorted(at) and len(set(HEADINGS)) == len(HEADINGS)


def test_every_heading_has_a_row_and_every_row_a_heading():
  rows_by_heading = {h: [r for r in ROWS if r.heading == h] for h in HEADINGS}
  assert all(rows_by_heading.values()), [h for h, r in rows_by_heading.items() if not r]
  assert {r.heading for r in ROWS} <= set(HEADINGS)


def test_quotes_are_verbatim_once_and_under_their_heading(article):
  """Whitespace aside, each quote is in the article once, in its row's section,
  and the rows follow the article's order."""
  text = _normalise(article)
  starts = [text.index(_normalise(h)) for h in HEADINGS]
  ends = starts[1:] + [len(text)]
  sections = {h: text[a:b] for h, a, b in zip(HEADINGS, starts, ends)}
  missing = [r.quote.text for r in ROWS if text.count(_normalise(r.quote.text)) != 1]
  assert not missing
  misplaced = [r.quote.text for r in ROWS
               if _normalise(r.quote.text) not in sections[r.heading]]
  assert not misplaced
  quotes = [_normalise(r.quote.text) for r in ROWS]
  assert len(set(quotes)) == len(quotes)
  assert [text.index(q) for q in quotes] == sorted(text.index(q) for q in quotes)


def test_each_claims_words_are_the_articles(article):
  """A report section quotes the article verbatim ('[...]' marks a cut)."""
  text = _normalise(article)
  for key, claim in CLAIMS.items():
    for piece in claim.quote.split(' [...] '):
      assert _normalise(piece) in text, (key, piece)


def test_every_row_names_an_experiment_and_finding_or_a_reason():
  stems = {run.stem for run in RUNS.values()}
  for r in ROWS:
    q = r.quote
    if r.experiment is None:
      assert q.finding is None and q.reason.strip(), q.text
      continue
    assert r.experiment in stems, r.experiment
    key = catalog.claim_key(q.finding)
    assert key in CLAIMS, q.finding
    assert writeup.claims(RUNS)[key][0].stem == r.experiment, (q.finding, r.experiment)
    assert not q.reason, q.text  # a tested row gives no reason not to test it


def test_every_verdict_of_the_report_has_a_row():
  findings = {r.quote.finding for r in ROWS if r.quote.finding}
  assert set(CLAIMS) <= findings


def test_coverage_section_shows_each_rows_verdict():
  findings = {'2': evidence.Finding('2', 'mixed', 'effect', [], []),
              '7': evidence.Finding('7', 'supported', 'effect', [], [])}
  md = '\n'.join(writeup.coverage_section(findings, RUNS, COVERAGE))
  table = [line for line in md.splitlines() if line.startswith('| ') and '“' in line]
  assert len(table) == len(ROWS)
  for r, line in zip(ROWS, table):
    cells = [cell.strip() for cell in line.strip('|').split(' | ')]
    assert len(cells) == 5 and cells[1] == f'“{r.quote.text}”'
    want = {'2': '**mixed**', '7': '**supported**'}.get(r.quote.finding, 'no verdict yet')
    assert cells[3] == (want if r.experiment else 'not tested')
    if r.experiment:
      assert f'[`{r.experiment}`](#claim-{catalog.claim_key(r.quote.finding)}-' in cells[2]
  untested = sum(r.experiment is None for r in ROWS)
  assert f'{untested} are not tested' in md
  print(f'{len(ROWS)} claims in {len(HEADINGS)} sections, {untested} not tested')


def test_anchors_follow_githubs_heading_ids():
  assert (writeup._anchor('Claim 1b: Gradient scaling with depth (Xiong et al. 2020)')
          == '#claim-1b-gradient-scaling-with-depth-xiong-et-al-2020')
  assert (writeup._anchor('Claim 3: Warm-up, initialization and batch size')
          == '#claim-3-warm-up-initialization-and-batch-size')
  assert re.fullmatch(r'#[a-z0-9-]+', writeup._anchor('Claim 7: ' + CLAIMS['7'].title))


def test_a_missing_table_is_said_not_raised(tmp_path):
  md = writeup.coverage_section({}, RUNS, str(tmp_path / 'coverage.py'))
  assert md[0] == '## Coverage' and 'absent' in md[2]
