"""lnexp.ops.compact and load_metrics: both metrics forms read the same frames."""
from __future__ import annotations

import json
import math
import os

import pandas as pd
import pytest

from lnexp.analysis import results
from lnexp.errors import ConfigError
from lnexp.ops import compact

ROWS = {
    'a': [{'step': 0, 'train_loss': 4.1, 'depth/grad': [0.5, None, 0.25]},
          {'step': 10, 'train_loss': 3.0, 'depth/grad': [0.1, 0.2, 0.3]},
          {'step': 10, 'train_loss': 2.9, 'eval_loss': 3.3,  # step 10 again: kept last
           'depth/grad': [0.1, 0.2, 1 / 3]},
          {'step': 5, 'train_loss': 3.5}],
    'b': [{'eval_loss': 4.0, 'step': 0, 'count': 7},  # other columns, another order
          {'step': 1, 'train_loss': None, 'count': 8, 'depth/act': [1e-30, 2.0]}],
    'c': [],  # logged nothing
}


def _workdir(path) -> str:
  """A fabricated workdir holding ROWS as metrics/POINT_ID.jsonl files."""
  os.makedirs(path / 'metrics')
  (path / 'config.json').write_text(json.dumps({'name': 't', 'base': {}, 'sweep': []}))
  for pid, rows in ROWS.items():
    (path / 'metrics' / f'{pid}.jsonl').write_text(
        ''.join(json.dumps(r) + '\n' for r in rows) + '{"step": 99, "tor')  # torn tail
  return str(path)


def _frames(wd: str) -> dict[str, pd.DataFrame]:
  return {pid: results.load_metrics(wd, pid) for pid in ROWS}


def test_reads_jsonl(tmp_path):
  m = results.load_metrics(_workdir(tmp_path), 'a')
  assert list(m.columns) == ['step', 'train_loss', 'depth/grad', 'eval_loss']
  assert m['step'].tolist() == [0, 5, 10] and m['step'].dtype == 'int64'
  assert m['train_loss'].tolist() == [4.1, 3.5, 2.9]
  assert m['depth/grad'][0] == [0.5, None, 0.25] and m['depth/grad'][2][2] == 1 / 3
  assert math.isnan(m['depth/grad'][1]) and math.isnan(m['eval_loss'][0])


def test_round_trip(tmp_path):
  wd = _workdir(tmp_path)
  before = _frames(wd)
  assert compact.compact(wd) == 3
  assert not os.path.exists(tmp_path / 'metrics')
  assert os.path.exists(tmp_path / results.COMPACT_FILE)
  after = _frames(wd)
  for pid in ROWS:
    pd.testing.assert_frame_equal(before[pid], after[pid], check_exact=True)
  assert list(after['b'].columns) == ['eval_loss', 'step', 'count', 'train_loss', 'depth/act']
  assert after['b']['count'].dtype == 'int64' and math.isnan(after['b']['train_loss'][1])
  assert after['b']['depth/act'][1] == [1e-30, 2.0]  # not float32: kept float64
  assert after['a']['depth/grad'][0] == [0.5, None, 0.25]
  assert list(after['c'].columns) == ['step'] and not len(after['c'])
  assert results.load_metrics(wd, 'unknown').empty


def test_jsonl_wins_and_recompact_keeps_points(tmp_path):
  wd = _workdir(tmp_path)
  compact.compact(wd)
  os.makedirs(tmp_path / 'metrics')
  (tmp_path / 'metrics' / 'd.jsonl').write_text('{"step": 0, "train_loss": 1.0}\n')
  (tmp_path / 'metrics' / 'a.jsonl').write_text('{"step": 0, "train_loss": 9.0}\n')
  assert results.load_metrics(wd, 'a')['train_loss'].tolist() == [9.0]  # a run's file
  assert compact.compact(wd) == 4
  assert results.load_metrics(wd, 'a')['train_loss'].tolist() == [9.0]
  assert results.load_metrics(wd, 'd')['train_loss'].tolist() == [1.0]
  pd.testing.assert_frame_equal(results.load_metrics(wd, 'b'), _frames(
      _workdir(tmp_path / 'fresh'))['b'])


def test_mismatch_changes_nothing(tmp_path, monkeypatch):
  wd = _workdir(tmp_path)
  monkeypatch.setattr(compact, '_same', lambda *a: False)
  with pytest.raises(ConfigError, match='read back different'):
    compact.compact(wd)
  assert sorted(os.listdir(tmp_path / 'metrics')) == ['a.jsonl', 'b.jsonl', 'c.jsonl']
  assert not os.path.exists(tmp_path / results.COMPACT_FILE)
  assert not os.path.exists(tmp_path / (results.COMPACT_FILE + '.tmp'))


def test_detects_a_changed_value(tmp_path):
  wd = _workdir(tmp_path)
  frame = results.load_metrics(wd, 'a')
  compact.write(str(tmp_path / 'x.parquet'), {'a': [{'step': 0, 'depth/grad': [0.5]}]},
                {'a': list(frame.columns)})
  assert not compact._same(frame, str(tmp_path / 'x.parquet'), 'a')


def test_cli(tmp_path, capsys):
  assert compact.main([_workdir(tmp_path)]) == 0
  assert '3 points' in capsys.readouterr().out
  assert compact.main([str(tmp_path / 'nope')]) == 2
  assert 'no such workdir' in capsys.readouterr().err
