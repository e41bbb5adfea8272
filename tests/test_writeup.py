"""The report's v4 parts (lnexp.claims.writeup): on for experiments whose rules
are v4, off for v3 ones, whose report must regenerate unchanged."""
import types

import pandas as pd

from lnexp.claims import catalog, scoring, writeup
from lnexp.claims import evidence as ev
from lnexp.measure import labels


def _runs(**attributes):
  module = types.ModuleType('lnexp_experiments_fake')
  module.__dict__.update(attributes)
  return {'fake': catalog.Run('fake', '/nonexistent/fake.py', module)}


CHANGE = catalog.Change('claim 2: failed runs', 'collapsed at its own loss',
                        'three scorings', 'issue 34: the verdict hinged on it')


def _frames():
  rows = [{'cell': 'none', 'seed': '0', 'optim.lr': lr, 'final_eval_loss': loss,
           'status': 'ok', 'collapsed': False, 'init_loss': 5.0, 'vocab_size': 35}
          for lr, loss in ((1e-3, 2.5), (1e-2, 2.6), (1e-1, 2.7), (1.0, 2.8))]
  return {'fake': ev.add_labels(pd.DataFrame(rows))}


def _report(runs, frames=None):
  return writeup._markdown('/tmp', 'core', {}, [], runs, '/nonexistent/coverage.py', frames)


def test_v4_report_defines_labels_from_lnexp_labels_and_shows_the_v4_parts():
  runs = _runs(VERSION=4, CHANGES=(CHANGE,))
  assert writeup.edition(runs) == 4
  md = _report(runs, _frames())
  assert f'Runs are labelled trained / {labels.definition()} / diverged' in md
  assert '90% of the unigram entropy' not in md
  assert '; '.join(scoring.SCORINGS) in md and '*fragile*' in md and 'Holm' in md
  assert '## What changed since v3 and why' in md
  assert ('| `fake` | claim 2: failed runs | collapsed at its own loss | three scorings | '
          'issue 34: the verdict hinged on it |') in md
  # the suite-wide checks: one sweep, best at its lowest LR; one cell 5.0 - ln 35 = +1.44
  assert '## Grid edges and initial losses' in md
  assert '1 of 1 sweeps of at least 4 learning rates (100%)' in md
  assert 'worst +1.44, fake: none' in md
  assert md.index('## What changed since v3') < md.index('## Runs') < md.index(
      '## Grid edges')


def test_v3_report_keeps_its_words_and_has_no_v4_parts():
  runs = _runs()
  assert writeup.edition(runs) == 3
  md = _report(runs, _frames())
  # The v3 words, kept so that REPORT.md regenerates from the v3 results unchanged
  # (they misstate lnexp.measure.labels' rule where the data have a floor).
  assert ('Runs are labelled trained / collapsed (finished at ≥ 90% of the unigram '
          'entropy: learned nothing) / diverged; diagnostics compare trained runs only.'
          ) in md
  for v4_only in ('fragile', 'Holm', '## What changed since v3', '## Grid edges'):
    assert v4_only not in md
