"""One path layer for workdirs, local or `gs://` (docs/scaling.md).

gs:// has no append and no rename: files are written whole, often-written ones
are `Staging`d locally, locks are `Lease`s under generation preconditions, and
storage work is `bounded`. gcsfs serves files, google-cloud-storage the
preconditions (the `[gcs]` extra); local paths get POSIX equivalents.
"""
from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import json
import logging
import os
import posixpath
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid

from lnexp.errors import ConfigError
from lnexp.runtime.interrupts import prog


def is_remote(path) -> bool:
  return '://' in str(path)


def normalize(path) -> str:
  """An absolute local path, or `gs://bucket/key` without a trailing slash;
  ConfigError for other schemes, no bucket, or no `[gcs]` extra."""
  path = os.fspath(path)
  if not is_remote(path):
    return os.path.abspath(os.path.expanduser(path))
  if not path.startswith('gs://'):
    raise ConfigError(f'{path}: only local paths and gs:// are supported')
  bucket, _, key = path[len('gs://'):].partition('/')
  if not bucket:
    raise ConfigError(f'{path}: expected gs://BUCKET/PATH')
  # Else gcsfs probes each new filesystem over gRPC (docs/scaling.md).
  os.environ.setdefault('GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT', 'false')
  try:
    import gcsfs  # noqa: F401
    import google.cloud.storage  # noqa: F401
  except ImportError:
    raise ConfigError("gs:// paths need the [gcs] extra: pip install 'lnexp[gcs]'"
                      ) from None
  key = posixpath.normpath(key.strip('/')) if key.strip('/') else ''
  return f'gs://{bucket}' + (f'/{key}' if key else '')


def join(path, *parts: str) -> str:
  path = os.fspath(path)
  return posixpath.join(path, *parts) if is_remote(path) else os.path.join(path, *parts)


@functools.cache
def _fs():
  """One gcsfs filesystem without a listing cache (other hosts write too)."""
  import gcsfs
  emulator = bool(os.environ.get('STORAGE_EMULATOR_HOST'))  # tests: no credentials
  return gcsfs.GCSFileSystem(use_listings_cache=False, skip_instance_cache=True,
                             token='anon' if emulator else None)


def _key(path) -> str:
  return os.fspath(path)[len('gs://'):]


def exists(path) -> bool:
  return os.path.exists(path) if not is_remote(path) else _fs().exists(_key(path))


def isdir(path) -> bool:
  return os.path.isdir(path) if not is_remote(path) else _fs().isdir(_key(path))


def isfile(path) -> bool:
  return os.path.isfile(path) if not is_remote(path) else _fs().isfile(_key(path))


def listdir(path) -> list[str]:
  """Names in a directory (prefix on gs://), sorted; [] if there is none."""
  if not is_remote(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else []
  if not isdir(path):
    return []
  return sorted(posixpath.basename(p.rstrip('/')) for p in _fs().ls(_key(path),
                                                                    detail=False))


def makedirs(path) -> None:
  """A directory; nothing on gs:// (prefixes exist through their objects)."""
  if not is_remote(path):
    os.makedirs(path, exist_ok=True)


def read_text(path) -> str:
  if not is_remote(path):
    with open(path) as f:
      return f.read()
  return _fs().cat_file(_key(path)).decode()


def write_text(path, text: str) -> None:
  """Replaces the file whole: readers see the old or the new text, never half."""
  if is_remote(path):
    _fs().pipe_file(_key(path), text.encode())  # one upload: atomic on GCS
    return
  tmp = f'{path}.{socket.gethostname()}.{os.getpid()}.tmp'
  try:
    with open(tmp, 'w') as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def append_lines(path, lines: list[str]) -> None:
  """Appends whole lines after closing a torn last line (so it stays one bad
  line); on gs:// rewrites the object (the caller holds the workdir lock)."""
  if not lines:
    return
  text = ''.join(line.rstrip('\n') + '\n' for line in lines)
  if is_remote(path):
    old = read_text(path) if exists(path) else ''
    write_text(path, old + ('\n' if old and not old.endswith('\n') else '') + text)
    return
  with open(path, 'ab+') as f:
    if f.seek(0, os.SEEK_END) > 0:
      f.seek(-1, os.SEEK_END)
      if f.read(1) != b'\n':
        text = '\n' + text
    f.write(text.encode())
    f.flush()
    os.fsync(f.fileno())


def remove(path) -> None:
  """Deletes a file if it exists."""
  if not is_remote(path):
    if os.path.exists(path):
      os.remove(path)
  elif exists(path):
    _fs().rm_file(_key(path))


def rmtree(path) -> None:
  if not is_remote(path):
    shutil.rmtree(path, ignore_errors=True)
  elif exists(path):
    _fs().rm(_key(path), recursive=True)


def _files(root) -> list[str]:
  """Relative paths of every file under `root`."""
  if not is_remote(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, files in os.walk(root) for f in files)
  prefix = _key(root).rstrip('/') + '/'
  return sorted(p[len(prefix):] for p in _fs().find(prefix) if not p.endswith('/'))


def copy_file(src, dst) -> None:
  """Copies one file between any two of local and gs://, creating parents."""
  if not is_remote(dst):
    os.makedirs(os.path.dirname(dst) or '.', exist_ok=True)
  if not is_remote(src) and not is_remote(dst):
    shutil.copyfile(src, dst)
  elif not is_remote(src):
    _fs().put_file(src, _key(dst))
  elif not is_remote(dst):
    _fs().get_file(_key(src), dst)
  else:
    _fs().copy(_key(src), _key(dst))


def copy_tree(src, dst, skip: tuple[str, ...] = ()) -> list[str]:
  """Copies every file under `src` to `dst`, but those under the top-level
  names in `skip`; returns the relative paths."""
  copied = []
  for rel in _files(src):
    if rel.split('/', 1)[0] in skip or rel.split(os.sep, 1)[0] in skip:
      continue
    copy_file(join(src, rel), join(dst, *rel.split('/')))
    copied.append(rel)
  return copied


class Staging:
  """Local mirror of a workdir's often-written subdirectories: the workdir
  itself, or for gs:// a temporary directory that `pull` fills and `upload`
  copies back (changed files only, at each checkpoint)."""

  def __init__(self, workdir: str, subdirs: tuple[str, ...] = ('metrics', 'tensorboard')):
    self.workdir = workdir
    self.subdirs = subdirs
    self.remote = is_remote(workdir)
    self.root = workdir
    if self.remote:
      self.root = tempfile.mkdtemp(prefix='lnexp-staging-')
      atexit.register(self.close)
    self._uploaded: dict[str, tuple[int, int]] = {}
    self._pulled: set[str] = set()

  def local(self, *parts: str) -> str:
    return os.path.join(self.root, *parts)

  def pull(self, rel: str) -> None:
    """Downloads the workdir's file or directory `rel` ('metrics/P.jsonl'), once."""
    if not self.remote or rel in self._pulled:
      return
    self._pulled.add(rel)
    src = join(self.workdir, rel)
    if isfile(src):
      copied = [self.local(*rel.split('/'))]
      copy_file(src, copied[0])
    elif isdir(src):
      copied = [self.local(*rel.split('/'), *p.split('/')) for p in
                copy_tree(src, self.local(*rel.split('/')))]
    else:
      return
    for path in copied:
      self._uploaded[path] = _signature(path)

  def upload(self) -> int:
    """Uploads changed files and deletes remote copies of ones removed here;
    returns how many."""
    if not self.remote:
      return 0
    count = 0
    for path in [p for p in self._uploaded if not os.path.exists(p)]:
      remove(join(self.workdir, *os.path.relpath(path, self.root).split(os.sep)))
      del self._uploaded[path]
      count += 1
    for subdir in self.subdirs:
      base = self.local(subdir)
      for rel in _files(base) if os.path.isdir(base) else ():
        path = os.path.join(base, rel)
        signature = _signature(path)
        if self._uploaded.get(path) != signature:
          copy_file(path, join(self.workdir, subdir, *rel.split(os.sep)))
          self._uploaded[path] = signature
          count += 1
    return count

  def close(self) -> None:
    if self.remote:
      shutil.rmtree(self.root, ignore_errors=True)


def _signature(path: str) -> tuple[int, int]:
  stat = os.stat(path)
  return stat.st_size, stat.st_mtime_ns


@functools.cache
def _client():
  from google.cloud import storage as gcs
  return gcs.Client()  # anonymous against STORAGE_EMULATOR_HOST


def check_bucket(path: str) -> None:
  """ConfigError when the bucket is missing, the credentials are, or they may
  not list objects (listing needs no bucket-metadata role)."""
  from google.api_core import exceptions
  from google.auth.exceptions import DefaultCredentialsError, RefreshError
  bucket, _, key = _key(path).partition('/')
  try:
    next(iter(_client().list_blobs(bucket, prefix=key, max_results=1)), None)
  except DefaultCredentialsError:
    raise ConfigError(f'{path}: no Google Cloud credentials found (run `gcloud auth '
                      'application-default login` or set GOOGLE_APPLICATION_CREDENTIALS)'
                      ) from None
  except RefreshError as e:  # expired or revoked
    raise ConfigError(f'{path}: Google Cloud refused the credentials ({e.args[0]}): run '
                      '`gcloud auth application-default login` or set '
                      'GOOGLE_APPLICATION_CREDENTIALS') from None
  except exceptions.Forbidden:
    raise ConfigError(f'{path}: permission denied on bucket {bucket!r} (the account '
                      'needs to list, read and write objects there, e.g. '
                      'roles/storage.objectAdmin)') from None
  except exceptions.NotFound:
    raise ConfigError(f'{path}: bucket {bucket!r} does not exist (create it: gcloud '
                      f'storage buckets create gs://{bucket})') from None


# tensorstore's ValueError("STATUS: ...") of a server that did not answer.
_TENSORSTORE_FAILURES = ('ABORTED', 'UNAVAILABLE', 'DEADLINE_EXCEEDED')


def failed(e: BaseException) -> bool:
  """Whether `e` is a gs:// client giving up on the server after its retries."""
  import aiohttp
  import requests
  from gcsfs.retry import HttpError
  from google.api_core.exceptions import GoogleAPIError
  from google.auth.exceptions import GoogleAuthError
  return isinstance(e, (ConnectionError, TimeoutError, aiohttp.ClientError, HttpError,
                        requests.RequestException, GoogleAPIError, GoogleAuthError)) or (
      isinstance(e, ValueError) and str(e).startswith(_TENSORSTORE_FAILURES))


@functools.cache
def _clients_log() -> str:
  """The file that `bounded` names, where gcsfs, fsspec and orbax's errors log."""
  path = os.path.join(tempfile.gettempdir(), f'lnexp-storage-{os.getpid()}.log')
  handler = logging.FileHandler(path, delay=True)  # created at the first record
  handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(name)s %(message)s'))
  for name in ('gcsfs', 'fsspec'):
    logging.getLogger(name).addHandler(handler)
    logging.getLogger(name).propagate = False
  orbax = f'{os.sep}orbax{os.sep}'

  def orbax_errors(record) -> bool:  # absl names the calling file
    if record.levelno < logging.ERROR or orbax not in record.pathname:
      return True
    handler.handle(record)
    return False
  logging.getLogger('absl').addFilter(orbax_errors)
  return path


_stopping = threading.Lock()
_clock = threading.local()  # .running: this thread is inside a `bounded` with its clock


@contextlib.contextmanager
def bounded(path: str, what: str, timeout_s: float, cleanup=None):
  """On a gs:// `path`, storage work inside that `failed` or outlives
  `timeout_s` ends the process: `cleanup()`, one line naming `path` and
  `what`, exit 75. It exits rather than raises: a call blocked on a dead server
  may never return (docs/scaling.md). Local paths: no bound. Inside another
  bound only the outer one's clock runs, so a hang is named by the outermost
  operation whichever watchdog thread would have run first."""
  if not is_remote(path):
    yield
    return
  log = _clients_log()
  stderr = os.dup(2)  # as on entry (a restore sends fd 2 to its log meanwhile)

  def stop(why: str) -> None:
    with _stopping:  # one line, should the watchdog and the call fail together
      if cleanup is not None:
        cleanup()
      sys.stdout.flush()
      details = f' (clients\' log: {log})' if os.path.exists(log) else ''
      os.write(stderr, f'{prog()}: error: {path}: {what} {why}; finished points and '
               f'checkpoints are kept: rerun the same command to resume{details}\n'.encode())
      os._exit(os.EX_TEMPFAIL)

  outermost = not getattr(_clock, 'running', False)
  late = f'did not finish in {timeout_s:g} s (train.storage_timeout_s)'
  watchdog = threading.Timer(timeout_s, stop, [late])
  watchdog.daemon = True
  if outermost:
    _clock.running = True
    watchdog.start()
  try:
    yield
  except Exception as e:
    if not failed(e):
      raise
    stop(f'failed ({type(e).__name__}: {" ".join(str(e).split())[:200]})')
  finally:
    if outermost:
      _clock.running = False
      watchdog.cancel()
      watchdog.join()  # one that fired ends the process first
    os.close(stderr)


def _blob(path: str):
  bucket, _, key = _key(path).partition('/')
  return _client().bucket(bucket).blob(key)


def _local_generation(stat: os.stat_result) -> int:
  return (stat.st_ino * 1_000_003 + stat.st_mtime_ns) % (2**62) or 1


def read_versioned(path: str) -> tuple[str, int] | None:
  """(text, generation) of a file, or None; the generation changes with every
  write (locally: made of inode and mtime)."""
  if not is_remote(path):
    try:
      with open(path) as f:
        return f.read(), _local_generation(os.fstat(f.fileno()))
    except FileNotFoundError:
      return None
  from google.api_core import exceptions
  blob = _blob(path)
  while True:  # the generation, then the text of exactly that generation
    try:
      blob.reload()
    except exceptions.NotFound:
      return None
    generation = int(blob.generation)
    try:
      return blob.download_as_text(if_generation_match=generation), generation
    except (exceptions.NotFound, exceptions.PreconditionFailed):
      continue  # replaced in between: read again


def write_versioned(path: str, text: str, generation: int = 0) -> int | None:
  """Writes `text` if the generation is still `generation` (0: no file);
  the new generation, or None if another writer won (locally only creation
  is atomic)."""
  if not is_remote(path):
    if generation == 0:
      try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
      except FileExistsError:
        return None
      with os.fdopen(fd, 'w') as f:
        f.write(text)
    else:
      current = read_versioned(path)
      if current is None or current[1] != generation:
        return None
      write_text(path, text)
    return _local_generation(os.stat(path))
  from google.api_core import exceptions
  blob = _blob(path)
  try:
    blob.upload_from_string(text, if_generation_match=generation)
  except exceptions.PreconditionFailed:
    return None
  return int(blob.generation)


def delete_versioned(path: str, generation: int) -> bool:
  """Deletes the file if its generation is still `generation`."""
  if not is_remote(path):
    current = read_versioned(path)
    if current is None or current[1] != generation:
      return False
    os.remove(path)
    return True
  from google.api_core import exceptions
  try:
    _blob(path).delete(if_generation_match=generation)
  except (exceptions.PreconditionFailed, exceptions.NotFound):
    return False
  return True


@dataclasses.dataclass
class Lease:
  """A lock that expires: a file naming its holder, renewed while held and
  lost `ttl_s` after the last renewal; every change is conditioned on the
  generation read, so two processes never both hold it."""
  path: str
  ttl_s: float = 300.0
  owner: dict = dataclasses.field(default_factory=lambda: {
      'host': socket.gethostname(), 'pid': os.getpid()})
  token: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
  generation: int | None = None

  def _text(self) -> str:
    return json.dumps({**self.owner, 'token': self.token,
                       'expires': time.time() + self.ttl_s})

  def alive(self, record: dict) -> bool:
    """Whether `record`'s holder may still hold the lease."""
    return record.get('expires', 0) > time.time()

  def holder(self) -> dict | None:
    """The current holder's record (with 'expires'), or None."""
    current = read_versioned(self.path)
    return None if current is None else _record(current[0])

  def acquire(self) -> dict | None:
    """Takes the lease if it is free or expired: None, or the live holder's record."""
    for _ in range(5):  # a lost race re-reads
      current = read_versioned(self.path)
      if current is None:
        self.generation = write_versioned(self.path, self._text(), 0)
      else:
        record = _record(current[0])
        if record.get('token') == self.token:  # a retried write that had succeeded
          self.generation = current[1]
          return None
        if self.alive(record):
          return record
        self.generation = write_versioned(self.path, self._text(), current[1])
      if self.generation is not None:
        return None
    return self.holder() or {'expires': 0}

  def renew(self) -> bool:
    """Extends the lease; False if it was lost (it expired and was taken)."""
    if self.generation is not None:
      self.generation = write_versioned(self.path, self._text(), self.generation)
    return self.generation is not None

  def release(self) -> None:
    """Deletes the lease (a failure leaves a stale one: the next holder takes it)."""
    if self.generation is not None:
      try:
        delete_versioned(self.path, self.generation)
      except OSError:
        pass
      self.generation = None


def _record(text: str) -> dict:
  try:
    record = json.loads(text)
  except json.JSONDecodeError:
    return {'expires': 0}  # torn or foreign: counts as expired
  return record if isinstance(record, dict) else {'expires': 0}
