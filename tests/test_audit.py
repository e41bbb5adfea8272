"""lnexp.claims.audit: best LRs at grid edges and initial losses against ln V,
on fabricated rows, counted by hand."""
import json
import math

import pandas as pd
import pytest

from lnexp.claims import audit
from lnexp.claims import evidence as ev
from lnexp.config import base_config, flatten

LRS = (1e-3, 1e-2, 1e-1, 1.0)
LN_35 = math.log(35)  # 3.5553


def _sweep(cell, seed, losses, init, lrs=LRS):
  """One sweep's rows: a loss per LR (None: diverged), all with initial loss `init`."""
  return [{'cell': cell, 'seed': seed, 'optim.lr': lr, 'final_eval_loss': loss,
           'status': 'ok' if loss is not None else 'diverged', 'collapsed': False,
           'init_loss': init, 'vocab_size': 35} for lr, loss in zip(lrs, losses)]


def _frames():
  rows = (_sweep('none', '0', [2.5, 2.6, 2.7, None], 3.6)       # best at the lowest LR
          + _sweep('none', '1', [2.7, 2.5, 2.6, 2.8], 3.6)      # bracketed
          + _sweep('ln', '0', [2.9, 2.8, 2.7, 2.6], 4.4)        # best at the highest LR
          + _sweep('ln', '1', [None] * 4, 4.6)                  # nothing trained
          + _sweep('ln3', '0', [2.5, 2.6, 2.7], 3.0, LRS[:3]))  # 3 LRs: not counted
  return {'exp': ev.add_labels(pd.DataFrame(rows))}


def test_edges_count_sweeps_of_four_lrs_by_their_best_trained_run():
  e = audit.edges(_frames())
  assert (e.at_edge, e.sweeps, e.untrained) == (2, 4, 1) and e.fraction == 0.5
  assert e.where == [['exp', 'none', '0', 1e-3, 'lowest'], ['exp', 'ln', '0', 1.0, 'highest']]
  # A collapsed run is no best, however low its loss: the trained best is inside.
  frame = ev.add_labels(pd.DataFrame(_sweep('x', '0', [2.0, 2.5, 2.6, 2.7], 3.6)))
  frame.loc[0, 'label'] = ev.COLLAPSED
  assert audit.edges({'exp': frame}).at_edge == 0
  assert audit.edges(_frames(), min_lrs=3).sweeps == 5


def test_initial_gaps_are_median_minus_ln_v_per_cell():
  gaps = audit.initial_gaps(_frames())
  # ln: 4 runs at 4.4 and 4 at 4.6, median 4.5 -> 4.5 - 3.5553 = 0.9447;
  # none: 3.6 - 3.5553 = 0.0447; ln3: 3.0 - 3.5553 = -0.5553.
  assert gaps['cell'].tolist() == ['ln', 'none', 'ln3']
  assert gaps['gap'].tolist() == pytest.approx([4.5 - LN_35, 3.6 - LN_35, 3.0 - LN_35])
  assert gaps['runs'].tolist() == [8, 8, 3]


def test_section_states_both_checks_against_their_limits():
  md = '\n'.join(audit.section(_frames()))
  assert md.startswith('## Grid edges and initial losses')
  assert ('2 of 4 sweeps of at least 4 learning rates (50%) have their best trained run '
          'at the lowest or highest LR of their grid (limit 10%: missed); in 1 of them no '
          'run trained.') in md
  assert ('1 of 3 cells have a median initial loss more than 0.7 nats from ln V '
          '(limit: none; worst +0.94, exp: ln).') in md
  assert '| exp | none | 0 | 0.001 | lowest |' in md
  assert '| exp | ln | 8 | +0.94 |' in md
  md = '\n'.join(audit.section(_frames(), edge_limit=0.5, init_limit=1.0))
  assert '(limit 50%: met)' in md and '0 of 3 cells' in md and 'worst' not in md


def test_load_names_each_cell_by_variant_and_the_other_swept_keys(tmp_path):
  base = flatten(base_config())
  sweep = [{'model.norm': 'none', 'train.batch_size': b, 'train.seed': 0, 'data.seed': 0}
           for b in (2, 8)]
  (tmp_path / 'config.json').write_text(json.dumps({'name': 'x', 'base': base,
                                                    'sweep': sweep}))
  (tmp_path / 'results.jsonl').write_text(''.join(
      json.dumps({'point_id': str(i), **p, 'status': 'ok', 'final_eval_loss': 2.5,
                  'init_loss': 3.6, 'vocab_size': 35, 'collapsed': False}) + '\n'
      for i, p in enumerate(sweep)))
  df = audit.load(str(tmp_path))
  assert df['cell'].tolist() == ['none, train.batch_size=2', 'none, train.batch_size=8']
  assert (df['optim.lr'] == base['optim.lr']).all()  # not swept: the base config's
