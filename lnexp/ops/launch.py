"""`python -m lnexp.launch tpu SUBCOMMAND --name NAME --zone ZONE [flags] -- RUN_ARGS`.

Runs `lnexp.run RUN_ARGS --multihost` on every worker of a Cloud TPU VM
through `gcloud compute tpus tpu-vm`, so that it survives the laptop that
started it and a preemption of the pod:

- `create` makes the VM (`--spot`, or `--queued` through queued resources);
  a VM found preempted or stopped is deleted and made again.
- `run` does `create` if needed, then ships only tracked files (a wheel built
  from `git archive --ref`, plus constraints.txt), makes a Python >= 3.11
  environment on each worker that does not depend on the image (`uv`, which
  installs Python itself; `--install=wheel` installs the wheel with no
  dependencies into a venv over the image's packages), and starts the run
  detached (setsid/nohup) with a log per worker. The same `run` command
  after a preemption resumes from the `gs://` workdir.
- `status`, `logs`, `fetch` (workdir and every worker's log) and `delete`.

`--dry-run` prints every command and the scripts the workers run. JAX finds
the pod's hosts itself on TPU VMs; `--coordinator_port=P` passes worker 0's
address and each worker's process id explicitly instead.
"""
from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

from absl import flags

from lnexp import cli
from lnexp.errors import ConfigError
from lnexp.runtime import storage

PROG = 'lnexp.launch'
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUBCOMMANDS = ('create', 'run', 'status', 'logs', 'fetch', 'delete')
REMOTE = '"$HOME"/lnexp'  # on each worker: .venv, src/ (the run's cwd), run.log
BUNDLE = 'lnexp-bundle.tar'  # copied to the worker's home, unpacked into REMOTE
USAGE = ('python -m lnexp.launch tpu {' + ','.join(SUBCOMMANDS) + '} --name=NAME '
         '--zone=ZONE [flags] -- RUN_ARGS (lnexp.run flags, with --workdir)')
LAUNCHER_RUN_FLAGS = ('--multihost', '--coordinator', '--num_processes', '--process_id')
GONE_STATES = ('PREEMPTED', 'TERMINATED', 'STOPPED', 'FAILED')
# A process is alive if it exists and is not a zombie (a killed run that no
# one reaped still answers kill -0).
ALIVE = 'alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${s#Z}" = "$s" ]; }'


def define_flags(fv: flags.FlagValues, argv: list[str]) -> None:
  del argv
  flags.DEFINE_string('name', None, 'TPU VM name.', flag_values=fv)
  flags.DEFINE_string('zone', None, 'Zone, e.g. us-central2-b.', flag_values=fv)
  flags.DEFINE_string('project', None, 'Cloud project (default: gcloud config).',
                      flag_values=fv)
  flags.DEFINE_string('accelerator', 'v4-32', 'TPU type.', flag_values=fv)
  flags.DEFINE_string('version', 'tpu-ubuntu2204-base', 'TPU VM runtime image.',
                      flag_values=fv)
  flags.DEFINE_boolean('spot', False, 'Spot (preemptible) capacity.', flag_values=fv)
  flags.DEFINE_boolean('queued', False, 'Create through queued resources (waits for '
                       'capacity; with --spot: spot capacity).', flag_values=fv)
  flags.DEFINE_enum('install', 'uv', ['uv', 'wheel'], 'uv: a uv-made venv with its own '
                    'Python and lnexp[EXTRAS] from the index; wheel: only the wheel, '
                    'no dependencies, into a venv over the image\'s packages.',
                    flag_values=fv)
  flags.DEFINE_string('python', '3.11', 'Python version uv installs on the workers.',
                      flag_values=fv)
  flags.DEFINE_string('extras', 'tpu,gcs', 'lnexp extras to install.', flag_values=fv)
  flags.DEFINE_string('ref', 'HEAD', 'Git commit to ship (tracked files only).',
                      flag_values=fv)
  flags.DEFINE_integer('coordinator_port', None, 'Pass worker 0\'s address with this '
                       'port, the process count and ids explicitly (default: JAX '
                       'auto-detection on TPU VMs).', lower_bound=1, upper_bound=65535,
                       flag_values=fv)
  flags.DEFINE_boolean('local_workdir', False, 'Allow a workdir on the workers\' own '
                       'disks (single-host slices; lost with the VM).', flag_values=fv)
  flags.DEFINE_integer('lines', 20, 'logs: lines per worker.', lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_string('dest', None, 'fetch: local directory (default: the workdir\'s '
                      'relative path, or runs/<its name>).', flag_values=fv)
  flags.DEFINE_boolean('checkpoints', False, 'fetch: include checkpoints.',
                       flag_values=fv)
  flags.DEFINE_boolean('dry_run', False, 'Print every command and script; run nothing.',
                       flag_values=fv)


def workdir_of(run_args: list[str]) -> str | None:
  """The value of --workdir DIR / --workdir=DIR in lnexp.run's arguments."""
  for i, arg in enumerate(run_args):
    name, eq, value = arg.partition('=')
    if name in ('--workdir', '-workdir'):
      if eq:
        return value
      if i + 1 < len(run_args):
        return run_args[i + 1]
      raise ConfigError('--workdir needs a value')
  return None


# TPU generations: cores (v2-v5p) or chips (v5e, v6e) per host.
PER_HOST = {'v2': 8, 'v3': 8, 'v4': 8, 'v5p': 8, 'v5litepod': 4, 'v5e': 4, 'v6e': 4}


def check_accelerator(accelerator: str) -> None:
  """A TPU type gcloud can create, e.g. v4-32 (ConfigError before any cloud call)."""
  kind, _, size = accelerator.rpartition('-')
  if kind not in PER_HOST or not size.isdigit() or int(size) < 1:
    raise ConfigError(f'--accelerator={accelerator} is not a TPU type; expected '
                      f'GENERATION-SIZE with GENERATION one of {", ".join(PER_HOST)} '
                      '(e.g. v4-32)')


def hosts_of(accelerator: str) -> int:
  """Workers of a TPU type, for dry runs (a real run asks gcloud describe)."""
  kind, _, size = accelerator.rpartition('-')
  return max(1, int(size) // PER_HOST.get(kind, 8)) if kind and size.isdigit() else 1


def check_run_args(run_args: list[str]) -> None:
  """`lnexp.run --check RUN_ARGS` from the repository's root (as the workers
  run it), before a VM is paid for."""
  proc = subprocess.run([sys.executable, '-m', 'lnexp.run', '--check', *run_args],
                        cwd=ROOT, capture_output=True, text=True)
  if proc.returncode:
    lines = proc.stderr.strip().splitlines() or ['failed']
    raise ConfigError(f'the run arguments: {lines[-1].removeprefix("lnexp.run: error: ")}')


class Gcloud:
  """Runs (or, dry, prints) gcloud commands for one TPU VM."""

  def __init__(self, fv: flags.FlagValues):
    self.fv = fv
    self.dry = fv.dry_run
    self.where = [f'--zone={fv.zone}'] + ([f'--project={fv.project}'] if fv.project
                                          else [])

  def tpu(self, verb: str, *args: str) -> list[str]:
    return ['gcloud', 'compute', 'tpus', 'tpu-vm', verb, *args, *self.where]

  def queued(self, verb: str, *args: str) -> list[str]:
    return ['gcloud', 'compute', 'tpus', 'queued-resources', verb, *args, *self.where]

  def ssh(self, worker, command: str) -> list[str]:
    return self.tpu('ssh', self.fv.name, f'--worker={worker}', '--command', command)

  def scp(self, src: str, dst: str, worker) -> list[str]:
    return self.tpu('scp', src, dst, f'--worker={worker}')

  def run(self, command: list[str], check: bool = True, capture: bool = False):
    """Prints `command` and runs it unless dry: (returncode, stdout, stderr)."""
    print('+ ' + shlex.join(command), flush=True)
    if self.dry:
      return 0, '', ''
    pipe = subprocess.PIPE if capture else None
    proc = subprocess.run(command, text=True, stdout=pipe, stderr=pipe)
    if check and proc.returncode:
      detail = (proc.stderr or '').strip().splitlines()[-1:]
      raise CommandFailed(f'command failed ({proc.returncode}): {shlex.join(command)}'
                          + (f': {detail[0]}' if detail else ''))
    return proc.returncode, proc.stdout or '', proc.stderr or ''

  def run_workers(self, commands: dict[int, list[str]]) -> dict:
    """Runs one command per worker at once; prints each output line as
    `[worker I] ...`; {worker: (returncode, output)}."""
    for command in commands.values():
      print('+ ' + shlex.join(command), flush=True)
    if self.dry:
      return {w: (0, '') for w in commands}
    procs = {w: subprocess.Popen(c, text=True, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT)
             for w, c in commands.items()}
    results = {}
    for w, p in procs.items():
      out = p.communicate()[0]
      results[w] = (p.returncode, out)
      for line in out.splitlines():
        print(f'[worker {w}] {line}', flush=True)
    return results

  def describe(self) -> dict | None:
    """The VM's description, or None if there is none."""
    rc, out, err = self.run(self.tpu('describe', self.fv.name, '--format=json'),
                            check=False, capture=True)
    if self.dry:
      return None
    if rc:
      if re.search(r'not.?found', err, re.I):
        return None
      raise CommandFailed('gcloud describe failed: ' +
                          (err.strip().splitlines() or [f'exit {rc}'])[-1])
    return json.loads(out)

  def workers(self, description: dict | None) -> list[str]:
    """Internal IP of each worker (placeholders in a dry run)."""
    if description is None:
      return [f'WORKER{i}_IP' for i in range(hosts_of(self.fv.accelerator))]
    return [e.get('ipAddress', '') for e in description.get('networkEndpoints', [])] or \
        ['']


class CommandFailed(Exception):
  pass


def ensure_vm(g: Gcloud, on_replace=None) -> dict | None:
  """Creates the VM unless a usable one exists; a preempted one is replaced
  (after `on_replace()`: its processes are all dead)."""
  fv = g.fv
  description = g.describe()
  state = (description or {}).get('state')
  if state in GONE_STATES:
    print(f'{PROG}: {fv.name} is {state}: deleting and creating it again', flush=True)
    delete_vm(g)
    if on_replace:
      on_replace()
    description = None
  elif description is not None:
    return description
  if fv.queued:
    g.run(g.queued('create', fv.name, f'--node-id={fv.name}',
                   f'--accelerator-type={fv.accelerator}', f'--runtime-version={fv.version}',
                   *(['--spot'] if fv.spot else [])))
    print(f'{PROG}: queued; waiting until it is ACTIVE (Ctrl-C stops waiting, not the '
          'request)', flush=True)
    while True:
      _, state, _ = g.run(g.queued('describe', fv.name, '--format=value(state.state)'),
                          capture=True)
      if g.dry:
        return None
      if state.strip() == 'ACTIVE':
        return g.describe()
      if state.strip() in ('FAILED', 'SUSPENDED'):
        raise CommandFailed(f'queued resource {fv.name} is {state.strip()}; `delete` it '
                            'and run again')
      time.sleep(30)
  g.run(g.tpu('create', fv.name, f'--accelerator-type={fv.accelerator}',
              f'--version={fv.version}', *(['--spot'] if fv.spot else [])))
  return g.describe() if not g.dry else None


def delete_vm(g: Gcloud) -> None:
  if g.fv.queued:
    g.run(g.queued('delete', g.fv.name, '--force', '--quiet'))
  else:
    g.run(g.tpu('delete', g.fv.name, '--quiet'))


def build_bundle(fv: flags.FlagValues, run_args: list[str], out_dir: str) -> str:
  """The tarball every worker gets (a wheel and src.tar of `--ref`'s tracked
  files, setup.sh, start.sh, launch.json); its path. A dry run builds nothing."""
  src, dist, bundle = (os.path.join(out_dir, d) for d in ('src', 'dist', 'bundle'))
  archive = ['git', '-C', ROOT, 'archive', '--format=tar', fv.ref]
  wheel = [sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '-w', dist, src]
  if _builds_wheels_offline():
    wheel[5:5] = ['--no-build-isolation', '--no-index']
  print('+ ' + shlex.join(archive) + ' | tar -x -C ' + shlex.quote(src), flush=True)
  if subprocess.run(['git', '-C', ROOT, 'status', '--porcelain', '--untracked-files=no'],
                    capture_output=True, text=True).stdout.strip():
    print(f'{PROG}: note: uncommitted changes are not shipped (--ref={fv.ref})',
          flush=True)
  print('+ ' + shlex.join(wheel), flush=True)
  if fv.dry_run:
    wheel_name, constraints = _wheel_name(), os.path.exists(
        os.path.join(ROOT, 'constraints.txt'))
  else:
    for d in (src, dist, bundle):
      os.makedirs(d)
    tar = subprocess.run(archive, capture_output=True)
    if tar.returncode:
      raise ConfigError(f'git archive {fv.ref} failed: {tar.stderr.decode().strip()[:200]}'
                        f' (is {ROOT} a git checkout?)')
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as t:
      t.extractall(src, filter='data')
    with open(os.path.join(bundle, 'src.tar'), 'wb') as f:
      f.write(tar.stdout)
    built = subprocess.run(wheel, capture_output=True, text=True)
    if built.returncode:
      raise CommandFailed(f'building the wheel failed: {built.stderr.strip()[-300:]}')
    [wheel_name] = os.listdir(dist)
    shutil.copy(os.path.join(dist, wheel_name), bundle)
    constraints = os.path.exists(os.path.join(src, 'constraints.txt'))
  files = {'setup.sh': setup_script(fv, wheel_name, constraints),
           'start.sh': start_script(fv, run_args),
           'launch.json': json.dumps({'name': fv.name, 'zone': fv.zone, 'ref': fv.ref,
                                      'run_args': run_args,
                                      'workdir': workdir_of(run_args)}, indent=1)}
  path = os.path.join(out_dir, BUNDLE)
  if fv.dry_run:
    for name in ('setup.sh', 'start.sh'):
      print(f'# {name} (on every worker):\n{files[name]}', end='', flush=True)
    return path
  for name, text in files.items():
    with open(os.path.join(bundle, name), 'w') as f:
      f.write(text)
  with tarfile.open(path, 'w') as t:
    for name in sorted(os.listdir(bundle)):
      t.add(os.path.join(bundle, name), arcname=name)
  return path


def _wheel_name() -> str:
  """The wheel pip would build from this checkout's pyproject.toml."""
  import tomllib
  with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as f:
    project = tomllib.load(f)['project']
  return f'{project["name"].replace("-", "_")}-{project["version"]}-py3-none-any.whl'


def _builds_wheels_offline() -> bool:
  """Whether this Python's setuptools builds wheels without downloading
  (setuptools >= 70.1 has bdist_wheel; older needs the `wheel` package)."""
  from importlib import metadata, util
  try:
    major, minor = (int(x) for x in metadata.version('setuptools').split('.')[:2])
  except (metadata.PackageNotFoundError, ValueError):
    return False
  return (major, minor) >= (70, 1) or util.find_spec('wheel') is not None


def setup_script(fv: flags.FlagValues, wheel: str, constraints: bool) -> str:
  """setup.sh: the worker's environment, independent of the image's Python."""
  lines = ['#!/bin/bash', '# lnexp.launch: makes ~/lnexp/.venv with lnexp on this worker.',
           'set -euo pipefail', f'cd {REMOTE}',
           'rm -rf src && mkdir src && tar -xf src.tar -C src']
  if fv.install == 'uv':
    target = f'lnexp[{fv.extras}] @ file://$HOME/lnexp/{wheel}' if fv.extras else \
        f'lnexp @ file://$HOME/lnexp/{wheel}'
    lines += [
        'export PATH="$HOME/.local/bin:$PATH"',
        'command -v uv >/dev/null || curl -LsSf https://astral.sh/uv/install.sh | sh',
        f'uv venv --allow-existing --python {shlex.quote(fv.python)} .venv',
        'uv pip install --python .venv/bin/python --reinstall-package lnexp' +
        (' -c src/constraints.txt' if constraints else '') + f' "{target}"']
  else:
    lines += [
        '[ -x .venv/bin/python ] || python3 -m venv --system-site-packages --without-pip '
        '.venv',
        '.venv/bin/python -m pip install -q --no-deps --no-index --force-reinstall '
        f'{shlex.quote(wheel)}']
  lines.append('.venv/bin/python -P -c "import sys, lnexp; print(\'lnexp\', lnexp.__file__, '
               '\'python\', sys.version.split()[0])"')
  return '\n'.join(lines) + '\n'


def start_script(fv: flags.FlagValues, run_args: list[str]) -> str:
  """start.sh [PROCESS_ID COORDINATOR NUM_PROCESSES]: this worker's run, detached,
  in src/ with `python -P` (lnexp from the wheel)."""
  run = ['../.venv/bin/python', '-P', '-m', 'lnexp.run', *run_args, '--multihost']
  command = shlex.join(run)
  if fv.coordinator_port:
    command += ' --coordinator "$COORDINATOR" --num_processes "$NUM_PROCESSES" ' \
               '--process_id "$1"'
  body = f'cd src && {command} >> ../run.log 2>&1; echo $? > ../run.exit'
  return '\n'.join([
      '#!/bin/bash',
      '# lnexp.launch: starts this worker\'s lnexp.run detached (it survives the ssh',
      '# session): output in ~/lnexp/run.log, pid in run.pid, exit code in run.exit.',
      '# Usage: start.sh [PROCESS_ID [COORDINATOR NUM_PROCESSES]]',
      'set -euo pipefail',
      f'cd {REMOTE}',
      ALIVE,
      'if [ -f run.pid ] && alive "$(cat run.pid)"; then',
      '  echo "already running (pid $(cat run.pid))"; exit 0',
      'fi',
      'export COORDINATOR="${2:-}" NUM_PROCESSES="${3:-}"',
      'rm -f run.exit',
      'echo "=== $(date -u +%FT%TZ) start ${1:+process $1}" >> run.log',
      f'nohup setsid bash -c {shlex.quote(body)} _ "${{1:-}}" < /dev/null > /dev/null 2>&1 &',
      'echo $! > run.pid',
      'echo "started (pid $!)"',
  ]) + '\n'


STATUS = f'''cd {REMOTE} 2>/dev/null || {{ echo "not set up"; exit 0; }}
{ALIVE}
if [ -f run.exit ]; then s="exited $(cat run.exit)"
elif [ -f run.pid ] && alive "$(cat run.pid)"; then s="running (pid $(cat run.pid))"
elif [ -f run.pid ]; then s="stopped (killed)"
else s="not started"; fi
echo "$s | $(tail -n 1 run.log 2>/dev/null)"'''


def cmd_run(g: Gcloud, run_args: list[str]) -> int:
  fv = g.fv
  workdir = workdir_of(run_args)
  if workdir is None:
    raise ConfigError('the run arguments need --workdir (gs://BUCKET/PATH on a pod); '
                      + USAGE)
  if not workdir.startswith('gs://') and not fv.local_workdir:
    raise ConfigError(f'--workdir {workdir}: on a TPU VM use gs://BUCKET/PATH (shared by '
                      'every worker, kept when a preempted VM is replaced); '
                      '--local_workdir keeps it on the workers\' disks')
  clash = [a for a in run_args if a.split('=', 1)[0] in LAUNCHER_RUN_FLAGS]
  if clash:
    raise ConfigError(f'{clash[0]}: the launcher sets the multi-host flags itself')
  check_run_args(run_args)
  with tempfile.TemporaryDirectory(prefix='lnexp-launch-') as tmp:
    bundle = build_bundle(fv, run_args, tmp)
    description = ensure_vm(g, lambda: drop_locks(workdir))
    ips = g.workers(description)
    g.run(g.scp(bundle, f'{fv.name}:{BUNDLE}', 'all'))
    g.run(g.ssh('all', f'mkdir -p {REMOTE} && tar -xf ~/{BUNDLE} -C {REMOTE} && '
                       f'bash {REMOTE}/setup.sh'))
  if fv.coordinator_port:
    coordinator = f'{ips[0]}:{fv.coordinator_port}'
    results = g.run_workers({i: g.ssh(i, f'bash {REMOTE}/start.sh {i} '
                                         f'{shlex.quote(coordinator)} {len(ips)}')
                             for i in range(len(ips))})
  else:
    g.run(g.ssh('all', f'bash {REMOTE}/start.sh'))
    results = {}
  if any(rc for rc, _ in results.values()):
    raise CommandFailed('starting the run failed on a worker (see above)')
  print(f'{PROG}: started on {len(ips)} worker(s); follow with `{PROG} tpu status` or '
        '`logs` (same flags); `fetch` copies the workdir and logs; `delete` stops paying',
        flush=True)
  return 0


def drop_locks(workdir: str) -> None:
  """Removes a gs:// workdir's lock files after its VM was preempted (their
  holders died with it; they would block the resume until they expire)."""
  if not workdir.startswith('gs://'):
    return
  locks = storage.join(workdir, 'locks')
  for name in storage.listdir(locks):
    if name.endswith('.lock'):
      path = storage.join(locks, name)
      print(f'{PROG}: removing {path} (held on the preempted VM): '
            f'{storage.read_text(path)[:200]}', flush=True)
      storage.remove(path)


def cmd_status(g: Gcloud, run_args: list[str]) -> int:
  description = g.describe()
  if description is None and not g.dry:
    print(f'{g.fv.name}: no such TPU VM')
    return 1
  state = (description or {}).get('state', '?')
  print(f'{g.fv.name}: {state} ({(description or {}).get("acceleratorType", "?")})')
  if state == 'READY' or g.dry:
    g.run_workers({i: g.ssh(i, STATUS) for i in range(len(g.workers(description)))})
  workdir = workdir_of(run_args)
  if workdir and workdir.startswith('gs://') and not g.dry:
    print(f'{workdir}: {progress(workdir)}')
  return 0


def progress(workdir: str) -> str:
  """'N/M points finished' from a workdir's results.jsonl and config.json."""
  rows = storage.join(workdir, 'results.jsonl')
  done = {json.loads(line).get('point_id') for line in
          (storage.read_text(rows).splitlines() if storage.exists(rows) else ())
          if line.strip().endswith('}')}
  config = storage.join(workdir, 'config.json')
  total = len(json.loads(storage.read_text(config))['sweep']) if storage.exists(config) \
      else '?'
  return f'{len(done)}/{total} points finished'


def cmd_logs(g: Gcloud, run_args: list[str]) -> int:
  del run_args
  count = len(g.workers(g.describe()))
  g.run_workers({i: g.ssh(i, f'tail -n {g.fv.lines} {REMOTE}/run.log')
                 for i in range(count)})
  return 0


def cmd_fetch(g: Gcloud, run_args: list[str]) -> int:
  """Copies the workdir (without checkpoints unless --checkpoints) and each
  worker's log (to DEST/logs/worker-I.log)."""
  fv = g.fv
  workdir = workdir_of(run_args)
  if workdir is None:
    raise ConfigError('fetch needs the run arguments with --workdir; ' + USAGE)
  dest = os.path.abspath(fv.dest or (workdir if not workdir.startswith('gs://') and
                                     not os.path.isabs(workdir)
                                     else os.path.join('runs', os.path.basename(
                                         workdir.rstrip('/')))))
  if workdir.startswith('gs://'):
    print(f'+ copy {workdir} -> {dest}', flush=True)
    if not g.dry:
      skip = () if fv.checkpoints else ('checkpoints',)
      print(f'{PROG}: {len(storage.copy_tree(workdir, dest, skip=skip))} files')
  else:  # on worker 0's disk: tar it there, copy the tarball
    exclude = '' if fv.checkpoints else '--exclude=./checkpoints '
    g.run(g.ssh(0, f'cd {REMOTE}/src && tar -czf ../fetch.tgz {exclude}'
                   f'-C {shlex.quote(workdir)} .'))
    with tempfile.TemporaryDirectory() as tmp:
      g.run(g.scp(f'{fv.name}:lnexp/fetch.tgz', os.path.join(tmp, 'fetch.tgz'), 0))
      if not g.dry:
        os.makedirs(dest, exist_ok=True)
        with tarfile.open(os.path.join(tmp, 'fetch.tgz')) as t:
          t.extractall(dest, filter='data')
  description = g.describe()
  logs = os.path.join(dest, 'logs')
  if not g.dry:
    os.makedirs(logs, exist_ok=True)
  if description is not None or g.dry:
    g.run_workers({i: g.scp(f'{fv.name}:lnexp/run.log',
                            os.path.join(logs, f'worker-{i}.log'), i)
                   for i in range(len(g.workers(description)))})
  print(f'{PROG}: fetched into {dest}')
  return 0


def cmd_create(g: Gcloud, run_args: list[str]) -> int:
  del run_args
  ensure_vm(g)
  return 0


def cmd_delete(g: Gcloud, run_args: list[str]) -> int:
  delete_vm(g)
  workdir = workdir_of(run_args)
  if workdir and workdir.startswith('gs://'):
    print(f'{PROG}: {workdir} is kept (the same `run` resumes from it)')
  return 0


COMMANDS = {'create': cmd_create, 'run': cmd_run, 'status': cmd_status,
            'logs': cmd_logs, 'fetch': cmd_fetch, 'delete': cmd_delete}


def main(argv: list[str] | None = None) -> int:
  argv = sys.argv[1:] if argv is None else list(argv)
  cut = argv.index('--') if '--' in argv else len(argv)
  run_args = argv[cut + 1:]

  def body(fv: flags.FlagValues, words: list[str]) -> int:
    if not words or words[0] != 'tpu':
      raise ConfigError(f'expected the platform `tpu` first; usage: {USAGE}')
    if len(words) != 2 or words[1] not in COMMANDS:
      got = f' (got {" ".join(words[1:])!r})' if words[1:] else ''
      raise ConfigError(f'expected one subcommand of {", ".join(SUBCOMMANDS)} after '
                        f'`tpu`{got}; usage: {USAGE}')
    for name in ('name', 'zone'):
      if not fv[name].value:
        raise ConfigError(f'--{name} is required; usage: {USAGE}')
    if words[1] in ('create', 'run'):
      check_accelerator(fv.accelerator)
    if not fv.dry_run and shutil.which('gcloud') is None:
      raise ConfigError('gcloud is not on PATH: install the Google Cloud SDK, or pass '
                        '--dry_run to print the commands')
    try:
      return COMMANDS[words[1]](Gcloud(fv), run_args)
    except CommandFailed as e:
      print(f'{PROG}: error: {e}', file=sys.stderr)
      return 1

  return cli.main(PROG, define_flags, body, argv[:cut],
                  positional='tpu {' + ','.join(SUBCOMMANDS) + '} -- RUN_ARGS',
                  extra_help=lambda: __doc__)
