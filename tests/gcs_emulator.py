"""The tests' `gcs` fixture: one GCS emulator (lnexp.ops.gcs_emulator) per session."""
import itertools
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from lnexp.ops.gcs_emulator import BUCKET, env, free_port  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _no_metadata_probes() -> None:
  """google-auth imported before these variables were set keeps its own copy."""
  metadata = sys.modules.get('google.auth.compute_engine._metadata')
  if metadata is not None:
    metadata._NO_GCE_CHECK = True
    metadata._GCE_METADATA_HOST = '127.0.0.1:9'  # (the IP is read from the environment)


class Emulator:
  """A running emulator: its URL, environment, and fresh gs:// directories."""

  def __init__(self, log_path: str, bucket: str = BUCKET):
    self.bucket = bucket
    port = free_port()
    self.url = f'http://127.0.0.1:{port}'
    self.env = env(self.url)
    self._log = open(log_path, 'w')
    self.proc = subprocess.Popen(
        [sys.executable, '-m', 'lnexp.ops.gcs_emulator', str(port), bucket], cwd=ROOT,
        env={**os.environ, 'PYTHONPATH': ROOT}, stdout=self._log,
        stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
      try:
        urllib.request.urlopen(self.url + '/', timeout=1).read()
        break
      except OSError:
        if self.proc.poll() is not None or time.monotonic() > deadline:
          raise RuntimeError(f'GCS emulator did not start (see {log_path})') from None
        time.sleep(0.05)
    self._ids = itertools.count()

  def new_dir(self, name: str = 'run') -> str:
    return f'gs://{self.bucket}/{name}-{os.getpid()}-{next(self._ids)}'

  def stop(self) -> None:
    self.proc.terminate()
    self.proc.wait(timeout=10)
    self._log.close()


@pytest.fixture(scope='session')
def gcs(tmp_path_factory):
  """A GCS emulator for the session, with os.environ pointing every client at it."""
  emulator = Emulator(str(tmp_path_factory.mktemp('gcs') / 'emulator.log'))
  saved = {k: os.environ.get(k) for k in emulator.env}
  os.environ.update(emulator.env)
  _no_metadata_probes()
  yield emulator
  for key, value in saved.items():
    if value is None:
      os.environ.pop(key, None)
    else:
      os.environ[key] = value
  emulator.stop()
