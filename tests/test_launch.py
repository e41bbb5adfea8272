"""The TPU launcher composes exact gcloud commands; bad input exits 2."""
import os
import shutil

import pytest

from lnexp.tools import launch


def test_dry_run_prints_the_exact_commands(capsys, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert launch.main(['tpu', '--name', 'lr-sweep', '--zone', 'us-central2-b', '--create',
                      '--dry-run', '--', '--config', 'configs/quick_compare.py',
                      '--workdir', 'runs/qc', '--config.train.steps=800']) == 0
  root = launch.ROOT
  assert capsys.readouterr().out.splitlines() == [
      'gcloud compute tpus tpu-vm create lr-sweep --zone=us-central2-b '
      '--accelerator-type=v4-32 --version=tpu-ubuntu2204-base',
      f"gcloud compute tpus tpu-vm scp --recurse {root} 'lr-sweep:~/lnexp' "
      '--zone=us-central2-b --worker=all',
      "gcloud compute tpus tpu-vm ssh lr-sweep --zone=us-central2-b --worker=all --command "
      "'cd ~/lnexp && python3 -m pip install -q -e . '\"'\"'jax[tpu]'\"'\"' && python3 -m "
      "lnexp.run --config configs/quick_compare.py --workdir runs/qc "
      "--config.train.steps=800 --multihost'",
      f"gcloud compute tpus tpu-vm scp --recurse 'lr-sweep:~/lnexp/runs/qc' "
      f"{os.path.join(str(tmp_path), 'runs')} --zone=us-central2-b --worker=0"]


@pytest.mark.parametrize('argv,needle', [
    (['tpu', '--zone', 'z', '--dry-run', '--', '--workdir', 'w'], '--name'),
    (['gpu', '--name', 'n', '--zone', 'z', '--dry-run'], 'gpu'),
    (['tpu', '--name', 'n', '--zone', 'z', '--dry-run', '--', '--config', 'c.py'],
     '--workdir'),
])
def test_bad_arguments_exit_2_with_one_line(argv, needle, capsys):
  assert launch.main(argv) == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and needle in err and err.startswith('lnexp.launch: error:')


def test_without_gcloud_on_path_only_dry_run_works(monkeypatch, capsys):
  monkeypatch.setattr(shutil, 'which', lambda name: None)
  argv = ['tpu', '--name', 'n', '--zone', 'z', '--', '--workdir', 'w']
  assert launch.main(argv) == 2
  assert 'gcloud is not on PATH' in capsys.readouterr().err
  assert launch.main(argv[:5] + ['--dry-run'] + argv[5:]) == 0
