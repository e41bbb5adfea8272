"""The coverage table (experiments/coverage.py): every section of the article
has a row, every quote is verbatim, every row names a real experiment and
verdict or says why it is not tested; the report renders it with verdicts."""
from __future__ import annotations

import os
import re

import pytest

from lnexp.claims import analyses, report, suite

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARTICLE = os.path.join(REPO, 'experiments', 'seed-article.txt')  # a copy, checked below
SHARED = os.path.join(REPO, '..', 'shared', 'seed', 'layer-normalization-albertagpt.txt')
coverage = report.load_coverage()


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
  at = [lines.index(h) for h in coverage.HEADINGS]  # ValueError: not a line
  assert at == sorted(at) and len(set(coverage.HEADINGS)) == len(coverage.HEADINGS)


def test_every_heading_has_a_row_and_every_row_a_heading():
  rows_by_heading = {h: [c for c in coverage.CLAIMS if c.heading == h]
                     for h in coverage.HEADINGS}
  assert all(rows_by_heading.values()), [h for h, r in rows_by_heading.items() if not r]
  assert {c.heading for c in coverage.CLAIMS} <= set(coverage.HEADINGS)


def test_quotes_are_verbatim_and_under_their_heading(article):
  """Whitespace aside, each quote is in the article, in its row's section."""
  text = _normalise(article)
  starts = [text.index(_normalise(h)) for h in coverage.HEADINGS]
  ends = starts[1:] + [len(text)]
  sections = {h: text[a:b] for h, a, b in zip(coverage.HEADINGS, starts, ends)}
  missing = [c.quote for c in coverage.CLAIMS if _normalise(c.quote) not in text]
  assert not missing
  misplaced = [c.quote for c in coverage.CLAIMS
               if _normalise(c.quote) not in sections[c.heading]]
  assert not misplaced
  quotes = [_normalise(c.quote) for c in coverage.CLAIMS]
  assert len(set(quotes)) == len(quotes)


def test_every_row_names_an_experiment_and_finding_or_a_reason():
  for c in coverage.CLAIMS:
    if c.experiment is None:
      assert c.finding is None and c.reason.strip(), c.quote
      continue
    assert c.experiment in suite.EXPERIMENTS, c.experiment
    key = c.finding.split('-')[0]
    assert key in report.CLAIMS, c.finding
    assert report.CLAIMS[key][2] == c.experiment, (c.finding, c.experiment)
    assert not c.reason, c.quote  # a tested row gives no reason not to test it


def test_every_verdict_of_the_report_has_a_row():
  findings = {c.finding for c in coverage.CLAIMS if c.finding}
  assert set(report.CLAIMS) <= findings


def test_coverage_section_shows_each_rows_verdict():
  findings = {'2': analyses.Finding('2', 'mixed', 'effect', [], []),
              '7': analyses.Finding('7', 'supported', 'effect', [], [])}
  md = '\n'.join(report.coverage_section(findings))
  table = [line for line in md.splitlines() if line.startswith('| ') and '“' in line]
  assert len(table) == len(coverage.CLAIMS)
  for c, line in zip(coverage.CLAIMS, table):
    cells = [cell.strip() for cell in line.strip('|').split(' | ')]
    assert len(cells) == 5 and cells[1] == f'“{c.quote}”'
    want = {'2': '**mixed**', '7': '**supported**'}.get(c.finding, 'no verdict yet')
    assert cells[3] == (want if c.experiment else 'not tested')
    if c.experiment:
      assert f'[`{c.experiment}`](#claim-{c.finding.split("-")[0]}-' in cells[2]
  untested = sum(c.experiment is None for c in coverage.CLAIMS)
  assert f'{untested} are not tested' in md
  print(f'{len(coverage.CLAIMS)} claims in {len(coverage.HEADINGS)} sections, '
        f'{untested} not tested')


def test_anchors_follow_githubs_heading_ids():
  assert (report._anchor('Claim 1b: Gradient scaling with depth (Xiong et al. 2020)')
          == '#claim-1b-gradient-scaling-with-depth-xiong-et-al-2020')
  assert (report._anchor('Claim 3: Warm-up, initialization and batch size')
          == '#claim-3-warm-up-initialization-and-batch-size')
  assert re.fullmatch(r'#[a-z0-9-]+', report._anchor('Claim 7: ' + report.CLAIMS['7'][0]))


def test_a_missing_table_is_said_not_raised(tmp_path):
  md = report.coverage_section({}, str(tmp_path / 'coverage.py'))
  assert md[0] == '## Coverage' and 'absent' in md[2]
