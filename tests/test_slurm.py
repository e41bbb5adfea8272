"""--multihost under SLURM: the job's environment alone joins the processes."""
import os
import subprocess
import sys

import pytest

from lnexp import run
from lnexp.runtime import distributed
from tests.gcs_emulator import free_port
from tests.test_run import HERE, TINY, assert_same_results, rows_by_lr


def slurm_env(nodes='node001', job='1234', ntasks='8', procid='3', localid='1'):
  return {'SLURM_JOB_ID': job, 'SLURM_STEP_NODELIST': nodes, 'SLURM_NTASKS': ntasks,
          'SLURM_PROCID': procid, 'SLURM_LOCALID': localid}


@pytest.mark.parametrize('nodes,first', [
    ('node001', 'node001'), ('node001,host2', 'node001'), ('gpu[017-020],x', 'gpu017'),
    ('n[001,007-015]', 'n001')])
def test_slurm_params_match_jax_detection(nodes, first, monkeypatch):
  from jax._src.clusters.slurm_cluster import SlurmCluster
  env = slurm_env(nodes)
  for key, value in env.items():
    monkeypatch.setenv(key, value)
  monkeypatch.delenv('JAX_COORDINATOR_PORT', raising=False)
  port = 1234 % 4096 + 61440
  assert distributed.slurm_params() == (f'{first}:{port}', 8, 3)
  assert SlurmCluster.is_env_present()
  assert SlurmCluster.get_coordinator_address(None, None) == f'{first}:{port}'
  monkeypatch.setenv('JAX_COORDINATOR_PORT', '7000')
  assert distributed.slurm_params()[0] == f'{first}:7000'


def test_outside_slurm_nothing_is_detected():
  env = slurm_env()
  del env['SLURM_LOCALID']
  assert distributed.slurm_params(env) is None and distributed.slurm_params({}) is None


def test_a_one_node_range():  # jax's own parser returns 'a-b3]' here
  assert distributed.slurm_params(slurm_env('a-b[3]'))[0] == 'a-b3:62674'


def test_unreachable_slurm_coordinator_fails_fast_with_one_line(tmp_path, capsys,
                                                                monkeypatch):
  for key, value in slurm_env('127.0.0.1', procid='1', ntasks='2').items():
    monkeypatch.setenv(key, value)
  monkeypatch.setenv('JAX_COORDINATOR_PORT', str(free_port()))
  rc = run.main(['--config', TINY, '--workdir', str(tmp_path / 'w'), '--multihost',
                 '--init_timeout', '1'])
  err = capsys.readouterr().err
  assert rc == 2 and err.count('\n') == 1 and 'unreachable' in err


@pytest.mark.slow
def test_two_slurm_tasks_equal_one_process(tmp_path):
  """What `srun -N2 python -m lnexp.run ... --multihost` gives each task."""
  port = free_port()
  flags = ['--config', TINY, '--config.diagnostics.enabled=false',
           '--config.train.steps=20', '--config.train.eval_every=10']
  procs = [subprocess.Popen(
      [sys.executable, '-m', 'lnexp.run', *flags, '--workdir', str(tmp_path / 'multi'),
       '--multihost'],
      env={**os.environ, **slurm_env('127.0.0.1', '1234', '2', str(i), '0'),
           'JAX_COORDINATOR_PORT': str(port), 'PYTHONPATH': os.path.dirname(HERE)},
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
  outputs = [p.communicate(timeout=240)[0] for p in procs]
  assert [p.returncode for p in procs] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
  assert run.main(flags + ['--workdir', str(tmp_path / 'single')]) == 0
  assert_same_results(rows_by_lr(tmp_path / 'multi'), rows_by_lr(tmp_path / 'single'))


def test_examples_parse():
  root = os.path.dirname(HERE)
  sbatch = os.path.join(root, 'examples', 'slurm.sbatch')
  assert subprocess.run(['bash', '-n', sbatch]).returncode == 0
  text = open(sbatch).read()
  assert 'srun' in text and '-m lnexp.run' in text and '--multihost' in text
  yaml = pytest.importorskip('yaml')
  task = yaml.safe_load(open(os.path.join(root, 'examples', 'skypilot.yaml')))
  assert task['num_nodes'] == 2 and '--multihost' in task['run']
