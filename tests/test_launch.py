"""lnexp.launch: the dry run shows every command; bad input is one line and exit 2;
remote paths are quoted (fetch of a worker-local workdir through the stand-in gcloud)."""
import os
import shlex
import shutil

import pytest

from lnexp.ops import launch
from tests.test_pod import pod  # noqa: F401  (fixture: the stand-in gcloud on PATH)

WHERE = ['--name=sweep', '--zone=us-central2-b']
RUN = ['--config', 'configs/quick_compare.py', '--workdir=gs://bucket/qc',
       '--config.train.steps=800']


def dry(capsys, *argv) -> list[str]:
  assert launch.main(list(argv)) == 0, capsys.readouterr().err
  return capsys.readouterr().out.splitlines()


def gcloud_lines(lines):
  return [line[2:] for line in lines if line.startswith('+ gcloud')]


def test_dry_run_shows_the_whole_v4_32_sequence(capsys):
  lines = dry(capsys, 'tpu', 'run', *WHERE, '--spot', '--dry_run', '--', *RUN)
  zone = '--zone=us-central2-b'
  assert gcloud_lines(lines) == [
      f'gcloud compute tpus tpu-vm describe sweep --format=json {zone}',
      'gcloud compute tpus tpu-vm create sweep --accelerator-type=v4-32 '
      f'--version=tpu-ubuntu2204-base --spot {zone}',
      next(line[2:] for line in lines if ' scp ' in line),
      "gcloud compute tpus tpu-vm ssh sweep --worker=all --command 'mkdir -p \"$HOME\"/lnexp"
      " && tar -xf ~/lnexp-bundle.tar -C \"$HOME\"/lnexp && bash \"$HOME\"/lnexp/setup.sh' "
      f'{zone}',
      "gcloud compute tpus tpu-vm ssh sweep --worker=all --command 'bash \"$HOME\"/lnexp/"
      f"start.sh' {zone}"]
  scp = next(line for line in lines if ' scp ' in line)
  assert scp.endswith(f'lnexp-bundle.tar sweep:lnexp-bundle.tar --worker=all {zone}')
  text = '\n'.join(lines)
  # The bundle: tracked files of HEAD as a wheel, uv's own Python, the run detached.
  assert 'git -C ' in text and 'archive --format=tar HEAD' in text and 'pip wheel' in text
  assert 'uv venv --allow-existing --python 3.11 .venv' in text
  assert '"lnexp[tpu,gcs] @ file://$HOME/lnexp/lnexp-' in text
  assert ("cd src && ../.venv/bin/python -P -m lnexp.run --config configs/quick_compare.py "
          "--workdir=gs://bucket/qc --config.train.steps=800 --multihost >> ../run.log") in text
  assert 'nohup setsid bash -c' in text and '--coordinator' not in text  # auto-detection


def test_dry_run_with_an_explicit_coordinator_starts_each_worker(capsys):
  lines = dry(capsys, 'tpu', 'run', *WHERE, '--coordinator_port=8476', '--dry_run',
              '--install=wheel', '--', *RUN)
  starts = [line for line in gcloud_lines(lines) if 'start.sh' in line]
  assert starts == [
      f"gcloud compute tpus tpu-vm ssh sweep --worker={i} --command 'bash \"$HOME\"/lnexp/"
      f"start.sh {i} WORKER0_IP:8476 4' --zone=us-central2-b" for i in range(4)]
  text = '\n'.join(lines)
  assert ('--multihost --coordinator "$COORDINATOR" --num_processes "$NUM_PROCESSES" '
          '--process_id "$1"') in text
  assert '--no-deps --no-index --force-reinstall lnexp-0.1.0-py3-none-any.whl' in text
  assert 'uv ' not in text


def test_queued_resources(capsys):
  lines = gcloud_lines(dry(capsys, 'tpu', 'create', *WHERE, '--queued', '--spot',
                           '--accelerator=v5litepod-16', '--dry_run'))
  assert lines[1] == ('gcloud compute tpus queued-resources create sweep --node-id=sweep '
                      '--accelerator-type=v5litepod-16 --runtime-version=tpu-ubuntu2204-base '
                      '--spot --zone=us-central2-b')
  assert gcloud_lines(dry(capsys, 'tpu', 'delete', *WHERE, '--queued', '--dry_run')) == [
      'gcloud compute tpus queued-resources delete sweep --force --quiet '
      '--zone=us-central2-b']


def test_status_logs_fetch_delete_dry_run(capsys):
  status = gcloud_lines(dry(capsys, 'tpu', 'status', *WHERE, '--dry_run'))
  assert len([line for line in status if '--worker=' in line]) == 4  # v4-32: 4 hosts
  logs = gcloud_lines(dry(capsys, 'tpu', 'logs', *WHERE, '--lines=5', '--dry_run'))
  assert logs[1].startswith("gcloud compute tpus tpu-vm ssh sweep --worker=0 --command "
                            "'tail -n 5 \"$HOME\"/lnexp/run.log'")
  fetch = dry(capsys, 'tpu', 'fetch', *WHERE, '--dry_run', '--', *RUN)
  assert f'+ copy gs://bucket/qc -> {os.path.abspath("runs/qc")}' in fetch
  assert gcloud_lines(dry(capsys, 'tpu', 'delete', *WHERE, '--dry_run')) == [
      'gcloud compute tpus tpu-vm delete sweep --quiet --zone=us-central2-b']


def test_hosts_of():
  assert [launch.hosts_of(t) for t in ('v4-8', 'v4-32', 'v5p-128', 'v5litepod-16',
                                       'v3-32', 'odd')] == [1, 4, 16, 4, 4, 1]


@pytest.mark.parametrize('argv,needle', [
    (['tpu', 'run', '--zone=z', '--dry_run', '--', '--workdir=gs://b/w'], '--name'),
    (['gpu', 'run', *WHERE, '--dry_run'], '`tpu`'),
    (['tpu', *WHERE, '--dry_run'], 'subcommand'),
    (['tpu', 'launch', *WHERE, '--dry_run'], "'launch'"),
    (['tpu', 'run', *WHERE, '--dry_run', '--', '--config', 'c.py'], '--workdir'),
    (['tpu', 'run', *WHERE, '--dry_run', '--', '--workdir', 'runs/x'], 'gs://'),
    (['tpu', 'run', *WHERE, '--dry_run', '--', '--workdir=gs://b/w', '--multihost'],
     '--multihost'),
    (['tpu', 'run', *WHERE, '--dry_run', '--coordinator_port=0', '--', '--workdir=gs://b/w'],
     'coordinator_port'),
    (['tpu', 'run', *WHERE, '--dry-run'], 'dry-run'),
    # Checked here before any cloud call, dry or not (issue: preemption-grade).
    (['tpu', 'run', *WHERE, '--accelerator=v99-bogus', '--dry_run', '--', *RUN],
     '--accelerator=v99-bogus is not a TPU type'),
    (['tpu', 'run', *WHERE, '--dry_run', '--', '--config', 'nope.py', '--workdir=gs://b/x'],
     'the run arguments: config file not found: nope.py'),
    (['tpu', 'run', *WHERE, '--dry_run', '--', *RUN, '--config.train.steps=-1'],
     'the run arguments: train.steps=-1 must be > 0'),
])
def test_bad_arguments_exit_2_with_one_line(argv, needle, capsys):
  assert launch.main(argv) == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and needle in err and err.startswith('lnexp.launch: error:')


def test_without_gcloud_on_path_only_dry_run_works(monkeypatch, capsys):
  monkeypatch.setattr(shutil, 'which', lambda name: None)
  argv = ['tpu', 'status', *WHERE]
  assert launch.main(argv) == 2
  assert 'gcloud is not on PATH' in capsys.readouterr().err
  assert launch.main(argv + ['--dry_run']) == 0


def test_local_workdirs_relative_and_absolute_with_quoted_paths(pod, tmp_path,  # noqa: F811
                                                                 capfd):
  """--local_workdir runs keep the workdir on worker 0's disk; fetch copies it
  (and each worker's log), for a relative path and an absolute one with a space."""
  flags = ['--name=pod', '--zone=z', '--accelerator=v4-16']
  assert launch.main(['tpu', 'create', *flags]) == 0
  home0 = pod / 'pod' / 'worker-0'
  absolute = tmp_path / "abs dir's"
  for workdir in (home0 / 'lnexp' / 'src' / 'runs' / 'x', absolute):
    (workdir / 'checkpoints').mkdir(parents=True)
    (workdir / 'results.jsonl').write_text(f'{workdir.name}\n')
  for i in range(2):
    (pod / 'pod' / f'worker-{i}' / 'lnexp').mkdir(exist_ok=True)
    (pod / 'pod' / f'worker-{i}' / 'lnexp' / 'run.log').write_text(f'log {i}\n')
  capfd.readouterr()
  for workdir, dest in (('runs/x', tmp_path / 'runs' / 'x'), (str(absolute), 'here')):
    assert launch.main(['tpu', 'fetch', *flags, *([f'--dest={dest}'] if dest == 'here'
                                                    else []),
                        '--', f'--workdir={workdir}']) == 0, capfd.readouterr()
    out = capfd.readouterr().out
    got = tmp_path / dest
    assert (got / 'results.jsonl').read_text() == f'{os.path.basename(workdir)}\n'
    assert not (got / 'checkpoints').exists()
    assert [(got / 'logs' / f'worker-{i}.log').read_text() for i in range(2)] == \
        ['log 0\n', 'log 1\n']
  ssh = shlex.split(next(line for line in out.splitlines() if ' ssh ' in line)[2:])
  assert ssh[ssh.index('--command') + 1] == (
      'cd "$HOME"/lnexp/src && tar -czf ../fetch.tgz --exclude=./checkpoints -C '
      f'{shlex.quote(str(absolute))} .')
  assert launch.main(['tpu', 'delete', *flags]) == 0
