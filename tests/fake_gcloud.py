"""A stand-in `gcloud` for the simulated pod: only the forms lnexp.launch uses.

`compute tpus tpu-vm create/describe/scp/ssh/delete`, with a TPU VM as a
directory under $FAKE_GCLOUD_ROOT holding vm.json and one directory per worker
(the worker's $HOME). `--worker=all` runs on every worker at once. Worker
commands run under bash with the simulated image's Python: `python3` is
$FAKE_GCLOUD_PYTHON, and $FAKE_GCLOUD_PYTHONPATH stands for the packages the
image has installed. Anything else exits 2 naming what it does not implement.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys

ROOT = os.environ.get('FAKE_GCLOUD_ROOT', '')


def fail(message: str, code: int = 1):
  print(f'ERROR: (gcloud) {message}', file=sys.stderr)
  sys.exit(code)


def workers_of(accelerator: str) -> int:
  match = re.fullmatch(r'v\d+[a-z]*-(\d+)', accelerator)
  return max(1, int(match.group(1)) // 8) if match else 1


def vm_dir(name: str) -> str:
  return os.path.join(ROOT, name)


def load(name: str) -> dict:
  path = os.path.join(vm_dir(name), 'vm.json')
  if not os.path.exists(path):
    fail(f'NOT_FOUND: Resource projects/test/locations/zone/nodes/{name} was not found')
  with open(path) as f:
    return json.load(f)


def worker_homes(name: str, worker: str) -> list[str]:
  count = len(load(name)['networkEndpoints'])
  ids = range(count) if worker == 'all' else [int(worker)]
  if any(not 0 <= i < count for i in ids):
    fail(f'INVALID_ARGUMENT: worker {worker} of {count}')
  return [os.path.join(vm_dir(name), f'worker-{i}') for i in ids]


def image_env(home: str) -> dict:
  bin_dir = os.path.join(ROOT, '.image-bin')
  os.makedirs(bin_dir, exist_ok=True)
  python3 = os.path.join(bin_dir, 'python3')
  if not os.path.exists(python3):
    with open(python3 + '.tmp', 'w') as f:
      f.write(f'#!/bin/sh\nexec {os.environ["FAKE_GCLOUD_PYTHON"]} "$@"\n')
    os.chmod(python3 + '.tmp', 0o755)
    os.replace(python3 + '.tmp', python3)
  return {**os.environ, 'HOME': home, 'PATH': f'{bin_dir}:{os.environ["PATH"]}',
          'PYTHONPATH': os.environ.get('FAKE_GCLOUD_PYTHONPATH', '')}


def main(argv: list[str]) -> int:
  options = dict(a[2:].split('=', 1) for a in argv if a.startswith('--') and '=' in a)
  words = [a for a in argv if not a.startswith('--')]
  if words[:3] != ['compute', 'tpus', 'tpu-vm'] or len(words) < 5:
    fail(f'the stand-in does not implement: gcloud {" ".join(argv)}', 2)
  verb, name = words[3], words[4]
  if verb == 'create':
    if os.path.exists(os.path.join(vm_dir(name), 'vm.json')):
      fail(f'ALREADY_EXISTS: {name}')
    count = workers_of(options['accelerator-type'])
    for i in range(count):
      os.makedirs(os.path.join(vm_dir(name), f'worker-{i}'))
    with open(os.path.join(vm_dir(name), 'vm.json'), 'w') as f:
      json.dump({'name': name, 'state': 'READY',
                 'acceleratorType': options['accelerator-type'],
                 'schedulingConfig': {'spot': '--spot' in argv},
                 'networkEndpoints': [{'ipAddress': '127.0.0.1'}] * count}, f)
    return 0
  if verb == 'describe':
    print(json.dumps(load(name), indent=1))
    return 0
  if verb == 'delete':
    load(name)
    for home in worker_homes(name, 'all'):
      pid_file = os.path.join(home, 'lnexp', 'run.pid')
      if os.path.exists(pid_file):
        try:
          os.killpg(int(open(pid_file).read()), signal.SIGKILL)
        except ProcessLookupError:
          pass
    shutil.rmtree(vm_dir(name))
    return 0
  if verb == 'ssh':
    command = argv[argv.index('--command') + 1]
    homes = worker_homes(name, options['worker'])
    procs = [subprocess.Popen(['bash', '-c', command], cwd=home, env=image_env(home),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for home in homes]
    outputs = [p.communicate()[0] for p in procs]
    for out in outputs:
      sys.stdout.buffer.write(out)
    return max(p.returncode for p in procs)
  if verb == 'scp':  # SRC... DST, one side VM:PATH (relative to the worker's home)
    *src, dst = words[4:]
    if ':' in dst:
      vm, path = dst.split(':', 1)
      for home in worker_homes(vm, options['worker']):
        for s in src:
          (shutil.copytree if os.path.isdir(s) else shutil.copy)(s, os.path.join(home, path))
      return 0
    vm, path = src[0].split(':', 1)
    [home] = worker_homes(vm, options['worker'])
    if not os.path.exists(os.path.join(home, path)):
      fail(f'scp: {path}: No such file or directory')
    shutil.copy(os.path.join(home, path), dst)
    return 0
  fail(f'the stand-in does not implement: gcloud {" ".join(argv)}', 2)


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
