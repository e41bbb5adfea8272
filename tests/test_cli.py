"""The command line: every norm and placement end to end; bad input exits 2."""
import json
import os

import numpy as np
import pytest

from lnexp import run
from lnexp.errors import ConfigError
from tests.test_run import TINY


def test_each_norm_and_placement_trains_end_to_end(tmp_path):
  sweep = tmp_path / 'variants.py'
  sweep.write_text(open(TINY).read() + '''

def get_sweep():
  return [{'model.norm': n, 'model.placement': p} for n, p in [
      ('layernorm', 'post'), ('rmsnorm', 'pre'), ('batchnorm', 'peri'), ('dyt', 'post'),
      ('none', 'pre'), ('none', 'post')]]
''')
  rc = run.main(['--config', str(sweep), '--workdir', str(tmp_path / 'wd'),
                 '--config.train.steps=3', '--config.train.eval_every=3',
                 '--config.train.log_every=1', '--config.data.pack=false'])
  assert rc == 0
  rows = [json.loads(line) for line in open(tmp_path / 'wd' / 'results.jsonl')]
  # Every norm and every placement once (each pair's causality: test_model).
  assert len(rows) == 5  # norm=none is one model whatever the placement
  for r in rows:
    assert r['status'] == 'ok' and r['steps'] == 3
    # BatchNorm's init loss uses batch statistics (as training does); after 3
    # steps its running statistics are barely warm, so compare like with like.
    final = r['final_eval_loss_batch_stats'] if r['model.norm'] == 'batchnorm' else \
        r['final_eval_loss']
    assert final < r['init_loss'] + 0.5
    metrics = [json.loads(line) for line in
               open(tmp_path / 'wd' / 'metrics' / f"{r['point_id']}.jsonl")]
    assert [m['step'] for m in metrics] == [1, 2, 3]
    per_depth = {k: v for k, v in metrics[-1].items() if k.startswith('depth/')}
    assert {'depth/grad_flow', 'depth/residual_rms', 'depth/attn/logit_max',
            'depth/transition_cos'} <= set(per_depth)
    assert 'ics_drift/depth/attn_norm_mean' in metrics[-1]
    if r['model.norm'] == 'batchnorm':
      assert 'depth/attn_norm/bn_var_dist' in per_depth
    for value in per_depth.values():
      assert len(value) == 2 and all(np.isfinite(value))


@pytest.fixture
def text_files(tmp_path):
  (tmp_path / 'binary.txt').write_bytes(b'\xff\xfe\x00 not text' * 50)
  (tmp_path / 'short.txt').write_text('too short')
  return tmp_path


BAD = {
    'unknown key': (['--config.model.nrm=layernorm'], 'model.nrm'),
    'wrong type': (['--config.train.steps=many'], 'train.steps'),
    'missing config file': (['--config', 'configs/nope.py'], 'nope.py'),
    'missing data path': (['--config.data.source=text', '--config.data.path=/no/file'],
                          'data.path'),
    'not utf-8': (['--config.data.source=text', '--config.data.path={tmp}/binary.txt'],
                  'data.path'),
    'too short': (['--config.data.source=text', '--config.data.path={tmp}/short.txt'],
                  'data.path'),
    'steps <= 0': (['--config.train.steps=0'], 'train.steps'),
    'lr <= 0': (['--config.optim.lr=-0.1'], 'optim.lr'),
    'tfds offline': (['--config.data.source=tfds', '--config.data.tfds_name=lm1b',
                      '--config.data.tfds_data_dir={tmp}/tfds'], 'lm1b'),
    'unknown source': (['--config.data.source=web'], 'data.source'),
    'unknown flag': (['--wrkdir=x'], "'wrkdir'. Did you mean: workdir"),
    'host devices 0': (['--host_devices=0'], '--host_devices=0'),
    'host devices x': (['--host_devices', 'x'], '--host_devices=x'),
    'cudnn in float32': (['--config.model.attention=cudnn'],
                         'model.attention=cudnn needs model.dtype=bfloat16'),
    'unknown arch': (['--config.model.arch=transformerx'], 'model.arch'),
    'image source, lstm': (['--config.model.arch=lstm', '--config.data.source=digits'],
                           'image source'),
    'text source, cnn': (['--config.model.arch=cnn'], 'model.arch=cnn needs an image'),
    'groupnorm, lstm': (['--config.model.arch=lstm', '--config.model.norm=groupnorm'],
                        'not available with model.arch'),
}


@pytest.mark.parametrize('case', sorted(BAD))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, text_files, capsys):
  flags, needle = BAD[case]
  flags = [f.replace('{tmp}', str(text_files)) for f in flags]
  config = [] if '--config' in flags else ['--config', TINY]
  workdir = text_files / 'wd'
  rc = run.main(config + ['--workdir', str(workdir)] + flags)
  err = capsys.readouterr().err
  assert rc == 2
  assert err.count('\n') == 1 and err.startswith('lnexp.run: error: ')
  assert needle in err and 'Traceback' not in err
  assert not os.path.exists(workdir)


def test_a_big_sweep_prints_its_total_and_summarises_its_groups(tmp_path):
  """25 structures (depths): 20 plan lines, one summary line, and a header
  whose total counts a compile per structure (lnexp.runtime.plan)."""
  import io

  from lnexp.runtime import plan as plan_lib
  from lnexp.train import sweep
  planned = sweep.plan_run(TINY, {}, str(tmp_path / 'wd'))
  depths = [d for d in range(1, 30) if d != planned.base.model.num_layers][:25]
  planned = planned.extended([{'model.num_layers': d} for d in depths])
  groups = [g for g in planned.groups if g.config.model.num_layers in depths]
  assert len(groups) == 25
  out = io.StringIO()
  sweep.print_plan(planned, 0, groups, {}, 'WD', out)
  lines = out.getvalue().splitlines()
  assert len(lines) == 1 + 20 + 1 and lines[-1] == '  ... and 5 more groups'
  total = plan_lib.estimate_seconds(groups)
  assert total >= 25 * plan_lib.COMPILE_S and f'~{total / 60:.1f} min left' in lines[0]


def test_workdir_under_a_file_is_one_line_exit_2(tmp_path, capsys):
  (tmp_path / 'afile').write_text('x')
  rc = run.main(['--config', TINY, '--workdir', str(tmp_path / 'afile' / 'sub')])
  err = capsys.readouterr().err
  assert rc == 2 and err.count('\n') == 1 and 'Traceback' not in err
  assert f'cannot write {tmp_path / "afile" / "sub"}' in err and 'is a file' in err


def test_host_devices_after_jax_started_exits_2(tmp_path, capsys):
  import jax
  jax.devices()  # the backend exists now: its device count is fixed
  assert run.main(['--config', TINY, '--workdir', str(tmp_path / 'wd'),
                   '--host_devices=2']) == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'before JAX starts' in err
  assert not os.path.exists(tmp_path / 'wd')


def test_different_base_config_exits_2(tmp_path, capsys):
  wd = str(tmp_path / 'wd')
  assert run.main(['--config', TINY, '--workdir', wd, '--config.train.steps=2',
                   '--config.train.eval_every=1']) == 0
  capsys.readouterr()
  rows_before = open(os.path.join(wd, 'results.jsonl')).read()
  assert run.main(['--config', TINY, '--workdir', wd, '--config.train.steps=3']) == 2
  err = capsys.readouterr().err
  assert 'different base config' in err and 'train.steps' in err
  assert open(os.path.join(wd, 'results.jsonl')).read() == rows_before


def test_out_of_memory_names_max_lanes_per_program(tmp_path, capsys, monkeypatch):
  from lnexp.train import loop

  def oom(*args, **kwargs):
    raise RuntimeError('RESOURCE_EXHAUSTED: Out of memory while trying to allocate')
  monkeypatch.setattr(loop, 'run_group', oom)
  assert run.main(['--config', TINY, '--workdir', str(tmp_path / 'w')]) == 1
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'train.max_lanes_per_program' in err


def test_plan_shows_lanes_per_device(tmp_path, capsys, monkeypatch):
  from lnexp.train import loop
  monkeypatch.setattr(loop, 'run_group', lambda *a, **k: None)
  assert run.main(['--config', TINY, '--workdir', str(tmp_path / 'w')]) == 0
  assert '3 lanes (3 per device on 1)' in capsys.readouterr().out


def test_duplicate_sweep_entries_are_reported_in_one_line(tmp_path, capsys, monkeypatch):
  from lnexp.train import loop
  monkeypatch.setattr(loop, 'run_group', lambda *a, **k: None)
  config = tmp_path / 'twice.py'
  config.write_text(open(TINY).read().replace('(3e-3, 1e-2, 30.0)', '(3e-3, 1e-2, 3e-3)'))
  assert run.main(['--config', str(config), '--workdir', str(tmp_path / 'w')]) == 0
  out = capsys.readouterr().out
  assert out.count('3 sweep entries, 2 distinct points') == 1
  assert '2 points (0 finished) in 1 groups' in out


# Which (arch, norm, placement) exist, written out by hand: the registries must
# agree. An LSTM reads no placement (only the default is accepted); a CNN has
# the ResNet v1 (post) and v2 (pre) blocks only.
SUPPORTED_NORMS = {
    'albert_gpt': {'layernorm', 'rmsnorm', 'batchnorm', 'dyt', 'scalenorm', 'powernorm',
                   'layernorm_simple', 'detachnorm', 'derf', 'none'},
    'lstm': {'layernorm', 'rmsnorm', 'batchnorm', 'scalenorm', 'none'},
    'cnn': {'layernorm', 'rmsnorm', 'batchnorm', 'dyt', 'groupnorm', 'none'}}
PLACEMENTS = {'post', 'pre', 'peri', 'rezero', 'deepnorm', 'lns', 'mixln', 'hybridnorm',
              'admin', 'ngpt'}
SUPPORTED_PLACEMENTS = {'albert_gpt': PLACEMENTS, 'lstm': {'post'}, 'cnn': {'post', 'pre'}}


@pytest.mark.parametrize('arch', sorted(SUPPORTED_NORMS))
def test_every_arch_norm_placement_is_supported_or_a_one_line_error(arch):
  from lnexp import config as config_lib
  from lnexp.models import validate
  from lnexp.runtime import plan
  source = 'digits' if arch == 'cnn' else 'synthetic'
  for norm in validate.CHOICES['model.norm']:
    for placement in validate.CHOICES['model.placement']:
      base = config_lib.apply_overrides(config_lib.base_config(), {
          'model.arch': arch, 'data.source': source})
      entry = {'model.norm': norm, 'model.placement': placement}
      ok = norm in SUPPORTED_NORMS[arch] and placement in SUPPORTED_PLACEMENTS[arch]
      if ok:
        plan.make_points(base, [entry])
        continue
      with pytest.raises(ConfigError) as e:
        plan.make_points(base, [entry])
      assert '\n' not in str(e.value) and 'not available with model.arch' in str(e.value)


def test_cnn_peri_is_refused_not_trained_as_post(tmp_path, capsys):
  rc = run.main(['--config', TINY, '--workdir', str(tmp_path / 'w'), '--config.model.arch=cnn',
                 '--config.data.source=digits', '--config.model.placement=peri'])
  err = capsys.readouterr().err
  assert rc == 2 and err.count('\n') == 1
  assert "model.placement='peri' is not available with model.arch='cnn'" in err
  assert not (tmp_path / 'w').exists()


@pytest.mark.parametrize('flag', [
    '--config.optim.lr=inf', '--config.optim.clip_norm=nan',
    '--config.optim.weight_decay=nan', '--config.optim.b1=nan',
    '--config.optim.min_lr_ratio=nan', '--config.optim.z_loss=nan', '--config.optim.eps=-1',
    '--config.model.norm_eps=inf', '--config.optim.b2=1.0', '--config.optim.min_lr_ratio=2'])
def test_nonsense_numbers_are_one_line_errors(flag, tmp_path, capsys):
  rc = run.main(['--config', TINY, '--workdir', str(tmp_path / 'w'), flag])
  err = capsys.readouterr().err
  key = flag.split('=')[0][len('--config.'):]
  assert rc == 2 and err.count('\n') == 1 and key in err, err
  assert not (tmp_path / 'w').exists()


def test_override_of_a_swept_key_is_refused(tmp_path, capsys):
  rc = run.main(['--config', 'configs/quick_compare.py', '--workdir', str(tmp_path / 'w'),
                 '--config.optim.lr=0.5'])
  err = capsys.readouterr().err
  assert rc == 2 and err.count('\n') == 1 and 'optim.lr is swept' in err
  assert not (tmp_path / 'w').exists()


@pytest.mark.parametrize('module', ['lnexp.run', 'lnexp.report', 'lnexp.bench',
                                    'lnexp.merge', 'lnexp.launch', 'lnexp.claims'])
def test_every_entry_point_has_help(module):
  import subprocess
  import sys
  proc = subprocess.run([sys.executable, '-m', module, '--help'], capture_output=True,
                        text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr
  assert 'usage' in proc.stdout.lower() and 'Traceback' not in proc.stderr


def test_run_help_lists_every_config_key_with_its_meaning(capsys):
  from lnexp import config as config_lib
  assert run.main(['--help']) == 0
  out = capsys.readouterr().out
  assert all(f'  {key} = ' in out for key in config_lib.flatten(config_lib.base_config()))
  meaning = config_lib.descriptions()
  assert set(meaning) == set(config_lib.flatten(config_lib.base_config()))
  assert all(meaning.values())  # every key documented in base_config()
  # a comment continued on the next line is one description
  assert meaning['model.bn_axes'] == ('batch (causal-safe, per position) | batch_time (leaks '
                                      'future) | cumulative (batch and positions <= t: '
                                      'causal-safe)')
  assert f"  model.bn_axes = 'batch'  (one of: batch, batch_time, cumulative)\n      " \
         f"{meaning['model.bn_axes']}\n" in out


def test_flagfile_overrides_are_read(tmp_path, capsys):
  flagfile = tmp_path / 'flags.txt'
  flagfile.write_text('--config.train.steps=0\n')
  rc = run.main(['--config', TINY, '--workdir', str(tmp_path / 'w'), f'--flagfile={flagfile}'])
  assert rc == 2 and 'train.steps=0 must be > 0' in capsys.readouterr().err


def test_check_plans_and_writes_nothing(tmp_path, capsys):
  wd = tmp_path / 'w'
  assert run.main(['--check', '--config', TINY, '--workdir', str(wd)]) == 0
  assert 'check out (--check: nothing run)' in capsys.readouterr().out
  assert not wd.exists()
  assert run.main(['--check', '--config', TINY, '--config.train.steps=0']) == 2
  assert 'train.steps=0 must be > 0' in capsys.readouterr().err
