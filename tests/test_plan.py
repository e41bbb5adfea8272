"""Point ids: equal models share one id; workdirs with older ids still resume."""
import io
import json

from lnexp import config as config_lib
from lnexp.engine import plan, train
from tests.test_run import TINY


def _base():
  return config_lib.load_config_file(TINY)[0]


def test_spelling_out_a_default_is_the_same_point():
  base = _base()
  lr, placement = base.optim.lr, base.model.placement
  points = plan.make_points(base, [{}, {'optim.lr': lr}, {'model.placement': placement},
                                   {'optim.lr': lr, 'model.placement': placement}])
  assert len(points) == 1
  other = plan.make_points(base, [{'optim.lr': lr * 2}])[0]
  assert other.point_id != points[0].point_id
  # Placements of norm=none are one model; so is an LSTM's placement.
  none = plan.make_points(base, [{'model.norm': 'none', 'model.placement': p}
                                 for p in ('post', 'pre', 'peri')])
  assert len(none) == 1


def test_a_row_with_a_pre_canonical_id_counts_as_finished(tmp_path):
  base = _base()
  sweep_entry = {'optim.lr': base.optim.lr}  # spells out the default
  config = tmp_path / 'one.py'
  config.write_text(open(TINY).read() + f'\n\ndef get_sweep():\n  return [{sweep_entry!r}]\n')
  workdir = tmp_path / 'w'
  flags = {'train.steps': '2', 'train.eval_every': '2'}
  first = train.train_and_evaluate(str(config), flags, str(workdir), out=io.StringIO())
  assert len(first) == 1
  # Rewrite the row as an older lnexp wrote it: id hashed from the entry as written.
  results = workdir / 'results.jsonl'
  row = json.loads(results.read_text())
  old_id = plan.short_hash({k: row[k] for k in sweep_entry})
  assert old_id != row['point_id']
  results.write_text(json.dumps({**row, 'point_id': old_id}) + '\n')
  out = io.StringIO()
  again = train.train_and_evaluate(str(config), flags, str(workdir), out=out)
  assert '(1 finished)' in out.getvalue()
  assert [r['point_id'] for r in again] == [old_id]
  assert len(results.read_text().splitlines()) == 1  # nothing recomputed
