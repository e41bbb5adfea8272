"""lnexp.report and lnexp.results: hand-checked metrics, a real tiny sweep, bad input."""
from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from lnexp import config as config_lib
from lnexp import run
from lnexp.analysis import figures, report, results
from lnexp.runtime import plan

HERE = os.path.dirname(__file__)
TINY = os.path.join(HERE, 'tiny_config.py')


@pytest.fixture(scope='session')
def tiny_sweep(tmp_path_factory):
  """The tiny 3-lane LR sweep (BatchNorm, so every figure applies), run once.

  Shared by this file and test_notebook.py, also across xdist workers: the
  first to arrive runs it under a file lock, the others reuse the workdir.
  """
  root = tmp_path_factory.getbasetemp()
  if os.environ.get('PYTEST_XDIST_WORKER'):
    root = root.parent  # one folder shared by the workers of this session
  wd, done = root / 'report_sweep', root / 'report_sweep.done'
  with open(root / 'report_sweep.lock', 'w') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not done.exists():
      shutil.rmtree(wd, ignore_errors=True)
      assert run.main(['--config', TINY, '--workdir', str(wd),
                       '--config.model.norm=batchnorm']) == 0
      done.touch()
  return wd


# ------------------------------------------------ hand-made rows

def _hand_workdir(path) -> dict[str, dict]:
  """A workdir of hand-made rows: layernorm (base, 2 seeds) and rmsnorm (1 seed).

  layernorm, seed 0, init 5.0: 3.0, 2.5, 2.58 ok, lr 1 diverged (no eval loss).
  layernorm, seed 1, init 4.8: 5.2 ok (worse than init), 2.7 ok, lr 0.1 diverged
  with eval loss 90, lr 1 diverged. rmsnorm: 2.6, 2.4, 2.45 ok; its lr 1 point
  has no row (missing). Returns the rows by (norm, seed, lr).
  """
  base = config_lib.flatten(config_lib.base_config())
  assert base['model.norm'] == 'layernorm' and base['train.seed'] == 0
  lrs = (1e-3, 1e-2, 1e-1, 1.0)
  sweep = ([{'optim.lr': lr, 'train.seed': s} for s in (0, 1) for lr in lrs] +
           [{'model.norm': 'rmsnorm', 'optim.lr': lr} for lr in lrs])
  ids = [p.point_id for p in plan.make_points(config_lib.base_config(), sweep)]
  outcomes = {
      ('layernorm', 0, 1e-3): ('ok', 5.0, 3.0), ('layernorm', 0, 1e-2): ('ok', 5.0, 2.5),
      ('layernorm', 0, 1e-1): ('ok', 5.0, 2.58),
      ('layernorm', 0, 1.0): ('diverged', 5.0, None),
      ('layernorm', 1, 1e-3): ('ok', 4.8, 5.2), ('layernorm', 1, 1e-2): ('ok', 4.8, 2.7),
      ('layernorm', 1, 1e-1): ('diverged', 4.8, 90.0),
      ('layernorm', 1, 1.0): ('diverged', 4.8, None),
      ('rmsnorm', 0, 1e-3): ('ok', 4.9, 2.6), ('rmsnorm', 0, 1e-2): ('ok', 4.9, 2.4),
      ('rmsnorm', 0, 1e-1): ('ok', 4.9, 2.45)}
  rows, by_key = [], {}
  for point_id, point in zip(ids, sweep):
    key = (point.get('model.norm', 'layernorm'), point.get('train.seed', 0),
           point['optim.lr'])
    if key not in outcomes:
      continue
    status, init, final = outcomes[key]
    row = {'point_id': point_id, **point, 'group': 'g', 'lane': 0, 'status': status,
           'diverged_step': 3 if status == 'diverged' else None,
           'diverged_reason': 'loss_exploded' if status == 'diverged' else None,
           'init_loss': init, 'final_train_loss': final, 'final_eval_loss': final,
           'best_eval_loss': final, 'steps': 10, 'wall_s': 1.0,
           'entropy_floor': 2.0, 'vocab_size': 11}
    rows.append(row)
    by_key[key] = row
  os.makedirs(path, exist_ok=True)
  with open(os.path.join(path, 'config.json'), 'w') as f:
    json.dump({'name': 'hand', 'base': base, 'sweep': sweep}, f)
  with open(os.path.join(path, 'results.jsonl'), 'w') as f:
    f.write(''.join(json.dumps(r) + '\n' for r in rows))
  return by_key


def test_results_fill_swept_keys_from_base_and_list_the_missing_point(tmp_path):
  rows = _hand_workdir(tmp_path)
  df = results.load_results(str(tmp_path))
  assert len(df) == 11 and set(df['workdir']) == {str(tmp_path)}
  assert df['model.norm'].value_counts().to_dict() == {'layernorm': 8, 'rmsnorm': 3}
  assert set(df.loc[df['model.norm'].eq('rmsnorm'), 'train.seed']) == {0}  # from base
  assert results.variant_keys(df) == ['model.norm']
  missing = results.missing_points(str(tmp_path))
  assert [(p['model.norm'], p['optim.lr']) for p in missing] == [('rmsnorm', 1.0)]
  assert missing[0]['point_id'] not in {r['point_id'] for r in rows.values()}


def test_lr_sensitivity_and_stability_equal_a_hand_computation(tmp_path, capsys):
  _hand_workdir(tmp_path)
  per_seed = report.seed_metrics(report.label_points(results.load_results(str(tmp_path))))
  got = {(r['variant'], r['seed']): r for _, r in per_seed.iterrows()}
  s0, s1 = got[('norm=layernorm', '0')], got[('norm=layernorm', '1')]
  # min(final, init) over the grid, diverged at init, minus the best final loss.
  assert s0['lr_sensitivity'] == pytest.approx((3.0 + 2.5 + 2.58 + 5.0) / 4 - 2.5)
  assert s1['lr_sensitivity'] == pytest.approx((4.8 + 2.7 + 4.8 + 4.8) / 4 - 2.7)
  assert (s0['best_eval_loss'], s0['best_lr'], s0['max_stable_lr']) == (2.5, 1e-2, 1e-1)
  assert s0['stable_decades'] == pytest.approx(1.0) and s0['diverged'] == 1
  assert (s1['best_eval_loss'], s1['max_stable_lr'], s1['stable_decades']) == (2.7, 1e-2, 0)
  assert s1['diverged'] == 2
  rms = got[('norm=rmsnorm', '0')]
  assert rms['lr_sensitivity'] == pytest.approx((2.6 + 2.4 + 2.45) / 3 - 2.4)
  assert rms['points'] == 3  # the missing lr=1 point is not guessed

  summary = report.summarize(per_seed).set_index('variant')
  ln = summary.loc['norm=layernorm']
  a, b = 0.77, 1.575
  mean, std = (a + b) / 2, abs(a - b) / math.sqrt(2)
  half = 12.706 * std / math.sqrt(2)  # t(0.975, df=1)
  assert (ln['lr_sensitivity_mean'], ln['lr_sensitivity_std']) == (
      pytest.approx(mean), pytest.approx(std))
  assert (ln['lr_sensitivity_lo'], ln['lr_sensitivity_hi']) == (
      pytest.approx(mean - half), pytest.approx(mean + half))
  assert ln['interval'] == 't-interval, 2 seeds' and ln['diverged'] == 3

  out = tmp_path / 'out'
  assert report.main([str(tmp_path), '--out', str(out)]) == 0
  stdout = capsys.readouterr().out
  assert 'norm=rmsnorm (1 missing)' in stdout and 't-interval, 2 seeds' in stdout
  assert f'{mean:.2f}' in stdout and f'± {std:.3f} [' in stdout  # 1.1725 +- 0.569
  text = (out / 'REPORT.md').read_text()
  assert 'within **0.1 nats**' in text and 'rows read' in text
  assert 'optim.lr=1.0' in text.split('## Missing points')[1]


def test_interval_is_bootstrap_from_five_seeds():
  values = [1.0, 1.2, 0.9, 1.1, 1.3]
  lo, hi, method = report.interval(values)
  assert method == 'bootstrap percentile, 5 seeds'
  assert 0.9 <= lo < sum(values) / 5 < hi <= 1.3
  assert report.interval([1.0])[2] == 'none (1 seed)'


# ------------------------------------------------ the real tiny sweep

def _listing(path) -> dict[str, int]:
  return {os.path.relpath(os.path.join(d, f), path): os.path.getsize(os.path.join(d, f))
          for d, _, files in os.walk(path) for f in files}


def test_report_on_tiny_sweep_writes_every_figure_only_under_out(tiny_sweep, tmp_path,
                                                                 capsys):
  from matplotlib.image import imread
  before = _listing(tiny_sweep)
  out = tmp_path / 'out'
  assert report.main([str(tiny_sweep), '--out', str(out)]) == 0
  assert _listing(tiny_sweep) == before  # nothing written into the workdir
  text = (out / 'REPORT.md').read_text()
  for name in figures.FIGURES.values():
    assert (out / name).stat().st_size > 0 and f']({name})' in text, name
    assert imread(out / name).ndim == 3
  rows = results.load_results(str(tiny_sweep))
  saved = pd.read_parquet(out / 'results.parquet')
  assert sorted(saved['point_id']) == sorted(rows['point_id']) and len(saved) == 3
  best = rows.loc[rows['status'].eq('ok'), 'final_eval_loss'].min()
  headline = capsys.readouterr().out
  assert f'{best:.3f}' in headline and '1/3' in headline  # lr 30 diverged
  assert 'None: every sweep point has a result row.' in text


def test_partly_written_run_lists_the_missing_point(tiny_sweep, tmp_path):
  wd = tmp_path / 'partial'
  wd.mkdir()
  shutil.copy(tiny_sweep / 'config.json', wd)
  shutil.copytree(tiny_sweep / 'metrics', wd / 'metrics')
  lines = (tiny_sweep / 'results.jsonl').read_text().splitlines(keepends=True)
  dropped, torn = json.loads(lines[1]), json.loads(lines[2])
  (wd / 'results.jsonl').write_text(lines[0] + lines[2][:40])  # a row gone, one torn
  assert report.main([str(wd)]) == 0
  text = (wd / 'report' / 'REPORT.md').read_text()
  missing = text.split('## Missing points')[1].split('## Points')[0]
  for row in (dropped, torn):
    assert row['point_id'] in missing
  assert '| 3 | 1 | 2 |' in text  # sweep points, rows read, missing
  assert (wd / 'report' / 'lr_sensitivity.png').stat().st_size > 0


# ------------------------------------------------ bad input

def _one_error_line(capsys, argv) -> str:
  assert report.main(argv) == 2
  captured = capsys.readouterr()
  lines = captured.err.splitlines()
  assert len(lines) == 1 and lines[0].startswith('lnexp.report: error: '), captured.err
  return lines[0]


def test_missing_empty_or_resultless_workdirs_exit_2_with_one_line(tmp_path, capsys):
  assert 'no such workdir' in _one_error_line(capsys, [str(tmp_path / 'nope')])
  empty = tmp_path / 'empty'
  empty.mkdir()
  assert 'no config.json' in _one_error_line(capsys, [str(empty)])
  _hand_workdir(tmp_path / 'hand')
  shutil.copy(tmp_path / 'hand' / 'config.json', empty)
  assert 'no results' in _one_error_line(capsys, [str(empty)])
  (empty / 'results.jsonl').write_text('{"point_id": "ab')  # only a torn line: reported
  assert report.main([str(empty)]) == 2
  lines = capsys.readouterr().err.splitlines()
  assert len(lines) == 2 and lines[0].startswith('lnexp: warning: skipped unreadable line 1 ')
  assert lines[1].startswith('lnexp.report: error: ') and 'no results' in lines[1]
  assert '--out is required' in _one_error_line(capsys, [str(tmp_path / 'hand')] * 2)
  assert sorted(os.listdir(empty)) == ['config.json', 'results.jsonl']  # wrote nothing


def test_cli_error_has_no_traceback(tmp_path):
  proc = subprocess.run([sys.executable, '-m', 'lnexp.report', str(tmp_path / 'nope')],
                        capture_output=True, text=True, timeout=120, check=False,
                        cwd=os.path.dirname(HERE))
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines() == [
      f'lnexp.report: error: no such workdir: {tmp_path / "nope"}']


def test_long_legends_wrap_and_the_figure_grows_instead_of_collapsing(tmp_path):
  """A multi-workdir report names variants by every key that differs; such a
  legend once collapsed constrained layout (a matplotlib UserWarning)."""
  import warnings

  from lnexp.analysis import figures
  fig, (ax,) = figures._new_figure()
  for i in range(9):
    ax.plot([1, 2], [i, i], label=' '.join(f'key{k}={i}' for k in range(14)))
  ax.legend(fontsize=8)
  with warnings.catch_warnings():
    warnings.simplefilter('error')
    figures._save(fig, str(tmp_path), 'lr_sensitivity')
  texts = [t.get_text() for t in ax.get_legend().get_texts()]
  assert all(max(len(line) for line in t.split('\n')) <= 48 for t in texts)
  assert fig.get_size_inches()[1] > 4.5  # taller than the default 4.5 in
