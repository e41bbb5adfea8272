"""The tests' `gcs` fixture: one GCS emulator (lnexp.ops.gcs_emulator) per session."""
import os

import pytest

from lnexp.ops.gcs_emulator import Emulator, _no_metadata_probes, free_port  # noqa: F401


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
