"""Point ids: equal models share one id; workdirs with older ids still resume."""
import io
import json

from lnexp import config as config_lib
from lnexp.runtime import plan
from lnexp.train import sweep as train
from tests.test_run import TINY


def _base():
  return config_lib.load_config_file(TINY).base


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


def _rows(points, loss_of_lr, diverged=()):
  return {p.point_id: {'status': 'diverged' if p.config.optim.lr in diverged else 'ok',
                       'final_eval_loss': None if p.config.optim.lr in diverged
                       else loss_of_lr(p.config.optim.lr), 'vocab_size': 35}
          for p in points}


def test_lr_grid_extends_past_an_edge_best_at_most_max_steps():
  """A fake loss curve with its minimum at lr=0.1, outside the grid 1e-3..1e-2:
  the grid grows by its own step (x sqrt(10)) on the high side, twice at most."""
  import math
  base = _base()
  curve = lambda lr: (math.log10(lr) + 1) ** 2 + 2.0  # noqa: E731  minimum at 0.1
  sweep = [{'optim.lr': lr, 'train.seed': s} for lr in (1e-3, 3.16228e-3, 1e-2)
           for s in (0, 1)]
  points = plan.make_points(base, sweep)
  original = {p.point_id for p in points}
  new = plan.lr_extensions(points, original, _rows(points, curve), 2)
  assert sorted({e['optim.lr'] for e in new}) == [0.0316228]
  assert sorted(e['train.seed'] for e in new) == [0, 1]  # every seed of the variant
  points = plan.make_points(base, sweep + new)
  new2 = plan.lr_extensions(points, original, _rows(points, curve), 2)
  assert {e['optim.lr'] for e in new2} == {0.1}
  points = plan.make_points(base, sweep + new + new2)
  # Still at the edge (0.1 is best), but two steps were added: no more.
  assert plan.lr_extensions(points, original, _rows(points, curve), 2) == []
  # Interior best: nothing to add; a diverged top LR counts at ln V, not as best.
  assert plan.lr_extensions(points, original,
                            _rows(points, lambda lr: (math.log10(lr) + 2) ** 2), 2) == []
  low = plan.make_points(base, sweep)
  flat = plan.lr_extensions(low, original, _rows(low, lambda lr: 1.0, diverged=(1e-2,)), 2)
  assert {e['optim.lr'] for e in flat} == {0.000316228}  # ties: the lowest LR wins


def test_a_run_extends_its_grid_and_records_the_extension(tmp_path):
  config = tmp_path / 'edge.py'
  config.write_text(open(TINY).read() + "\n\ndef get_sweep():\n  return [{'optim.lr': lr} "
                    "for lr in (1e-5, 1e-4)]\n")
  out = io.StringIO()
  rows = train.train_and_evaluate(str(config), {'optim.lr_extend': '1', 'train.steps': '8',
                                                'train.eval_every': '8'},
                                  str(tmp_path / 'w'), out=out)
  # Tiny LRs barely move in 8 steps: the larger one is best, so 1e-3 is added.
  assert 'points extend the grid (lr 0.001)' in out.getvalue()
  assert sorted(r['optim.lr'] for r in rows) == [1e-5, 1e-4, 1e-3]
  saved = json.load(open(tmp_path / 'w' / 'config.json'))
  assert {'optim.lr': 0.001} in saved['sweep']
