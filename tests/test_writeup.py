"""The report's parts (lnexp.claims.writeup): the verdict reading, the changes
since v3 and the suite-wide checks."""
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


def test_report_defines_labels_from_lnexp_labels_and_shows_the_v4_parts():
  runs = _runs(CHANGES=(CHANGE,))
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
