"""The path layer on local disk and on gs:// (a GCS emulator on loopback)."""
import http.server
import json
import os
import sys
import threading
import time

import numpy as np
import pytest

from lnexp.errors import ConfigError
from lnexp.runtime import storage
from tests.gcs_emulator import gcs  # noqa: F401  (fixture)


@pytest.fixture(params=['local', 'gs'])
def root(request, tmp_path):
  if request.param == 'local':
    return str(tmp_path / 'wd')
  return request.getfixturevalue('gcs').new_dir()


def test_normalize():
  assert storage.normalize('gs://b/x/y/') == 'gs://b/x/y'
  assert storage.normalize('gs://b//x/./y') == 'gs://b/x/y'
  assert storage.normalize('gs://b') == 'gs://b'
  assert storage.normalize('runs/x') == os.path.abspath('runs/x')
  for bad in ('gs://', 'gs:///x', 's3://b/x'):
    with pytest.raises(ConfigError):
      storage.normalize(bad)


def test_gs_turns_off_gcsfs_namespace_probe_unless_the_user_set_it(monkeypatch):
  """Without it gcsfs waits 60 s per filesystem on a gRPC probe (issue 36)."""
  monkeypatch.delenv('GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT', raising=False)
  storage.normalize('runs/x')
  assert 'GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT' not in os.environ  # local paths: untouched
  storage.normalize('gs://b/x')
  assert os.environ['GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT'] == 'false'
  monkeypatch.setenv('GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT', 'true')
  storage.normalize('gs://b/x')
  assert os.environ['GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT'] == 'true'


def test_gs_without_the_extra_is_one_clear_error(monkeypatch):
  monkeypatch.setitem(sys.modules, 'gcsfs', None)
  with pytest.raises(ConfigError, match=r"lnexp\[gcs\]"):
    storage.normalize('gs://b/x')


def test_files_read_write_list_copy(root, tmp_path):
  storage.makedirs(storage.join(root, 'sub'))
  storage.write_text(storage.join(root, 'a.txt'), 'one')
  storage.write_text(storage.join(root, 'a.txt'), 'two')  # replaces whole
  storage.write_text(storage.join(root, 'sub', 'b.txt'), 'bee')
  assert storage.read_text(storage.join(root, 'a.txt')) == 'two'
  assert storage.exists(storage.join(root, 'a.txt')) and storage.isdir(root)
  assert storage.isfile(storage.join(root, 'sub', 'b.txt'))
  assert not storage.exists(storage.join(root, 'nope'))
  assert storage.listdir(root) == ['a.txt', 'sub']
  assert storage.listdir(storage.join(root, 'nope')) == []
  assert sorted(storage.copy_tree(root, str(tmp_path / 'copy'), skip=('sub',))) == ['a.txt']
  assert (tmp_path / 'copy' / 'a.txt').read_text() == 'two'
  assert not (tmp_path / 'copy' / 'sub').exists()
  storage.remove(storage.join(root, 'a.txt'))
  assert storage.listdir(root) == ['sub']
  storage.rmtree(root)
  assert not storage.exists(storage.join(root, 'sub', 'b.txt'))


def test_append_lines_starts_on_a_fresh_line(root):
  storage.makedirs(root)
  path = storage.join(root, 'results.jsonl')
  storage.append_lines(path, ['{"a": 1}'])
  storage.write_text(path, storage.read_text(path) + '{"torn": ')  # crash mid-row
  storage.append_lines(path, ['{"b": 2}', '{"c": 3}\n'])
  assert storage.read_text(path).splitlines() == ['{"a": 1}', '{"torn": ', '{"b": 2}',
                                                  '{"c": 3}']
  storage.append_lines(path, [])
  assert storage.read_text(path).endswith('{"c": 3}\n')


def test_staging_uploads_changed_files_and_pulls_for_a_resume(gcs):  # noqa: F811
  remote = gcs.new_dir()
  staging = storage.Staging(remote)
  assert os.path.isdir(staging.root) and staging.root != remote
  os.makedirs(staging.local('metrics'))
  with open(staging.local('metrics', 'p1.jsonl'), 'w') as f:
    f.write('{"step": 1}\n')
  os.makedirs(staging.local('tensorboard', 'p1'))
  open(staging.local('tensorboard', 'p1', 'events.1'), 'wb').write(b'\x00\x01')
  assert staging.upload() == 2
  assert staging.upload() == 0  # nothing changed
  with open(staging.local('metrics', 'p1.jsonl'), 'a') as f:
    f.write('{"step": 2}\n')
  assert staging.upload() == 1
  assert storage.read_text(storage.join(remote, 'metrics', 'p1.jsonl')).count('step') == 2
  staging.close()
  assert not os.path.exists(staging.root)

  resumed = storage.Staging(remote)  # a new process resuming the run
  resumed.pull('metrics/p1.jsonl')
  resumed.pull('tensorboard/p1')
  resumed.pull('metrics/absent.jsonl')
  assert open(resumed.local('metrics', 'p1.jsonl')).read().count('step') == 2
  assert open(resumed.local('tensorboard', 'p1', 'events.1'), 'rb').read() == b'\x00\x01'
  assert resumed.upload() == 0  # pulled files count as uploaded
  os.remove(resumed.local('tensorboard', 'p1', 'events.1'))  # a fresh restart drops it
  assert resumed.upload() == 1
  assert not storage.exists(storage.join(remote, 'tensorboard', 'p1', 'events.1'))
  resumed.close()


def test_local_staging_is_the_workdir(tmp_path):
  staging = storage.Staging(str(tmp_path))
  assert staging.local('metrics') == str(tmp_path / 'metrics')
  staging.pull('metrics/p.jsonl')
  assert staging.upload() == 0


def test_versioned_writes(root):
  storage.makedirs(root)
  path = storage.join(root, 'lock')
  assert storage.read_versioned(path) is None
  gen = storage.write_versioned(path, 'a', 0)
  assert gen and storage.read_versioned(path) == ('a', gen)
  assert storage.write_versioned(path, 'b', 0) is None  # exists already
  time.sleep(0.01)  # local generations come from mtime
  gen2 = storage.write_versioned(path, 'c', gen)
  assert gen2 and gen2 != gen and storage.read_versioned(path)[0] == 'c'
  assert storage.write_versioned(path, 'd', gen) is None  # stale generation
  assert not storage.delete_versioned(path, gen)
  assert storage.delete_versioned(path, gen2) and not storage.exists(path)


def test_lease_expires_and_is_taken_over_once(gcs):  # noqa: F811
  path = storage.join(gcs.new_dir(), 'lock')
  first = storage.Lease(path, ttl_s=0.5, owner={'host': 'a', 'pid': 1})
  second = storage.Lease(path, ttl_s=30, owner={'host': 'b', 'pid': 2})
  assert first.acquire() is None
  assert first.renew()
  holder = second.acquire()
  assert (holder['host'], holder['pid']) == ('a', 1)
  time.sleep(0.6)  # first stopped renewing (killed, preempted)
  assert second.acquire() is None
  assert not first.renew()  # lost, and it knows
  first.release()  # a no-op: it no longer holds it
  assert second.holder()['host'] == 'b'
  second.release()
  assert storage.read_versioned(path) is None


def test_lease_torn_record_counts_as_expired(gcs):  # noqa: F811
  path = storage.join(gcs.new_dir(), 'lock')
  storage.write_text(path, '{"host": "a", "exp')
  lease = storage.Lease(path)
  assert lease.acquire() is None and lease.holder()['pid'] == os.getpid()


def test_lease_has_one_winner_among_racing_processes(gcs):  # noqa: F811
  path = storage.join(gcs.new_dir(), 'lock')
  leases = [storage.Lease(path, owner={'host': 'h', 'pid': i}) for i in range(4)]
  results = [None] * len(leases)

  def take(i):
    results[i] = leases[i].acquire() or 'won'

  threads = [threading.Thread(target=take, args=(i,)) for i in range(len(leases))]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  [winner] = [i for i, r in enumerate(results) if r == 'won']
  assert {r['pid'] for r in results if r != 'won'} == {winner}
  assert storage.Lease(path, owner={'host': 'h', 'pid': 9}).acquire()['pid'] == winner


def test_a_lease_whose_create_was_retried_after_succeeding_is_held(gcs):  # noqa: F811
  """GCS clients retry a conditional create whose answer was lost; the retry
  fails its precondition although the first attempt took the lease."""
  path = storage.join(gcs.new_dir(), 'lock')
  lease = storage.Lease(path)
  storage.write_versioned(path, lease._text(), 0)  # the attempt whose answer was lost
  assert lease.acquire() is None and lease.renew()


def test_orbax_checkpoints_on_gs(gcs):  # noqa: F811
  """What the emulator carries for orbax: save, max_to_keep deletion, latest, restore."""
  import orbax.checkpoint as ocp
  path = storage.join(gcs.new_dir(), 'checkpoints', 'g')
  options = ocp.CheckpointManagerOptions(max_to_keep=2, create=True)
  with ocp.CheckpointManager(path, options=options) as manager:
    for step in (10, 20, 30):
      manager.save(step, args=ocp.args.Composite(
          state=ocp.args.StandardSave({'w': np.arange(4.0) * step}),
          host=ocp.args.JsonSave({'step': step})))
    manager.wait_until_finished()
  assert storage.listdir(path) == ['20', '30']
  with ocp.CheckpointManager(path) as manager:
    assert manager.latest_step() == 30
    restored = manager.restore(30, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(), host=ocp.args.JsonRestore()))
  np.testing.assert_array_equal(restored['state']['w'], np.arange(4.0) * 30)
  assert restored['host'] == {'step': 30}
  assert json.loads(storage.read_text(storage.join(path, '30', 'host', 'metadata')))


def test_tensorstore_ocdbt_reopens_a_database_on_gs(gcs):  # noqa: F811
  """A second writer reads the manifest's generation back (orbax's OCDBT does
  after a conditional write fails): the emulator must send x-goog-generation."""
  import tensorstore as ts
  spec = {'driver': 'ocdbt', 'base': {'driver': 'gcs', 'bucket': gcs.bucket,
                                      'path': gcs.new_dir()[len(f'gs://{gcs.bucket}/'):]}}
  for key in (b'a', b'b'):
    ts.KvStore.open(spec, context=ts.Context()).result().write(key, key * 2).result()
  kv = ts.KvStore.open(spec, context=ts.Context()).result()
  assert kv.list().result() == [b'a', b'b'] and kv.read(b'a').result().value == b'aa'


def test_a_missing_bucket_is_one_line_exit_2_and_nothing_written(gcs, capsys):  # noqa: F811
  from lnexp import run
  from tests.test_run import TINY
  assert run.main(['--config', TINY, '--workdir', 'gs://no-such-bucket/x']) == 2
  err = capsys.readouterr().err
  assert err == ("lnexp.run: error: gs://no-such-bucket/x: bucket 'no-such-bucket' does not "
                 'exist (create it: gcloud storage buckets create gs://no-such-bucket)\n')
  with pytest.raises(ConfigError, match='does not exist'):
    storage.check_bucket('gs://no-such-bucket')
  storage.check_bucket(gcs.new_dir())  # the emulator's bucket exists


@pytest.fixture
def fresh_client():
  """The GCS client is made from the test's environment (and the usual one after)."""
  storage._client.cache_clear()
  yield
  storage._client.cache_clear()


def _run_in(workdir: str) -> int:
  from lnexp import run
  from tests.test_run import TINY
  return run.main(['--config', TINY, '--workdir', workdir])


@pytest.mark.parametrize('login, error', [
    ('none', ('no Google Cloud credentials found (run `gcloud auth application-default '
              'login` or set GOOGLE_APPLICATION_CREDENTIALS)')),
    ('stale', ('Google Cloud refused the credentials (Reauthentication is needed.): run '
               '`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS'))])
def test_missing_or_refused_credentials_are_one_line_exit_2(
    login, error, gcs, fresh_client, monkeypatch, tmp_path, capsys):  # noqa: F811
  """Found before anything is written: storage is asked nothing without them."""
  monkeypatch.delenv('STORAGE_EMULATOR_HOST')  # Google's endpoint: credentials come first
  monkeypatch.delenv('GOOGLE_APPLICATION_CREDENTIALS', raising=False)
  monkeypatch.setenv('CLOUDSDK_CONFIG', str(tmp_path))  # gcloud's directory, empty
  if login == 'stale':  # a `gcloud auth application-default login` that expired
    from google.auth.exceptions import RefreshError
    from google.oauth2 import credentials

    def refused(self, request):
      raise RefreshError('Reauthentication is needed.')
    monkeypatch.setattr(credentials.Credentials, 'refresh', refused)
    (tmp_path / 'application_default_credentials.json').write_text(json.dumps({
        'type': 'authorized_user', 'client_id': 'c', 'client_secret': 's',
        'refresh_token': 'r'}))
  assert _run_in('gs://lnexp-test/x') == 2
  assert capsys.readouterr().err == f'lnexp.run: error: gs://lnexp-test/x: {error}\n'


class _Forbidding(http.server.BaseHTTPRequestHandler):
  """A GCS endpoint that answers 403 to every request, noting it in `server.seen`."""

  def answer(self):
    self.server.seen.append(self.command + ' ' + self.path.split('?')[0])
    body = json.dumps({'error': {'code': 403, 'message': 'no'}}).encode()
    self.send_response(403)
    self.send_header('Content-Type', 'application/json')
    self.send_header('Content-Length', str(len(body)))
    self.end_headers()
    self.wfile.write(body)

  do_GET = do_POST = do_PUT = do_DELETE = answer

  def log_message(self, *args):
    pass


def test_permission_denied_is_one_line_exit_2_and_nothing_written(
    gcs, fresh_client, monkeypatch, capsys):  # noqa: F811
  server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Forbidding)
  server.seen = []
  threading.Thread(target=server.serve_forever, daemon=True).start()
  monkeypatch.setenv('STORAGE_EMULATOR_HOST', f'http://127.0.0.1:{server.server_port}')
  try:
    assert _run_in('gs://lnexp-test/x') == 2
  finally:
    server.shutdown()
  assert capsys.readouterr().err == (
      "lnexp.run: error: gs://lnexp-test/x: permission denied on bucket 'lnexp-test' (the "
      'account needs to list, read and write objects there, e.g. roles/storage.objectAdmin)\n')
  # one listing (the client may also read the bucket's metadata), nothing written
  assert 'GET /storage/v1/b/lnexp-test/o' in server.seen
  assert {request.split()[0] for request in server.seen} == {'GET'}


def test_storage_that_fails_or_hangs_ends_the_process_in_one_line(
    gcs, monkeypatch, capfd, tmp_path):  # noqa: F811
  """`bounded`: a gs:// client's failure after its own retries, or work past the
  bound, is one line naming the path and what failed, then exit 75; other
  errors pass through, and local paths have no bound."""
  codes, stopped = [], threading.Event()

  def exit_(code):  # os._exit, made to return to the test
    codes.append(code)
    stopped.set()
    if threading.current_thread() is threading.main_thread():
      raise SystemExit(code)
  monkeypatch.setattr(os, '_exit', exit_)
  path = gcs.new_dir()
  for failure in (ConnectionRefusedError(111, 'Connection refused'),
                  ValueError('UNAVAILABLE: All 32 retry attempts failed')):  # tensorstore's
    with pytest.raises(SystemExit), storage.bounded(path, 'saving', 60):
      raise failure
    err = capfd.readouterr().err
    assert err.count('\n') == 1 and f'error: {path}: saving failed ({type(failure).__name__}: ' \
        in err and err.rstrip().endswith('rerun the same command to resume'), err
  for other in (FileNotFoundError('gone'), ValueError('a bug'), ConfigError('bad input')):
    with pytest.raises(type(other)), storage.bounded(path, 'reading', 60):
      raise other
  with pytest.raises(ConnectionError), storage.bounded(str(tmp_path), 'reading', 0.01):
    time.sleep(0.1)
    raise ConnectionError
  stopped.clear()
  with storage.bounded(path, 'checkpointing', 0.2), storage.bounded(path, 'uploading', 0.01):
    assert stopped.wait(30)  # nested: only the outer clock runs, so the outer names the hang
  err = capfd.readouterr().err
  assert 'checkpointing did not finish in 0.2 s' in err and 'uploading' not in err, err
  stopped.clear()
  with storage.bounded(path, 'renewing', 0.2):
    assert stopped.wait(30)  # the watchdog thread
  assert codes == [75, 75, 75, 75] and 'renewing did not finish in 0.2 s' in capfd.readouterr().err
