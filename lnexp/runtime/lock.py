"""The workdir lock: one process per (workdir, shard) at a time.

A lock is a file `DIR/locks/whole.lock` (an unsharded run) or
`DIR/locks/shard-I-of-N.lock` naming its holder (host, pid, start time) and
an expiry. It is created atomically and changed only under the generation
read (`lnexp.runtime.storage`: O_EXCL locally, generation preconditions on
gs://), so two processes never both take it. It is stale, and taken over,
when its holder is gone: on this host, when the pid no longer runs (or runs
another program); from another host, when it has not been renewed (at each
checkpoint) for `LEASE_S`. Shards of one workdir (`--shard I/N`, what
`lnexp.claims --jobs N` runs) lock only their own slice, so they run
together; an unsharded run and any shard of it exclude each other.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
import uuid

from lnexp.errors import ConfigError
from lnexp.runtime import storage

LEASE_S = 900.0  # a holder on another host renews at each checkpoint
POLL_S = 2.0


def lock_name(shard: tuple[int, int] | None) -> str:
  return 'whole' if shard is None else f'shard-{shard[0]}-of-{shard[1]}'


def _slice(name: str) -> tuple[int, int] | None:
  if not name.startswith('shard-'):
    return None
  index, _, count = name[len('shard-'):].partition('-of-')
  return int(index), int(count)


def overlaps(a: str, b: str) -> bool:
  """Whether two lock names can run the same groups: the whole run overlaps
  every shard; shards of one N are disjoint; shards of different N overlap."""
  sa, sb = _slice(a), _slice(b)
  return sa is None or sb is None or sa[1] != sb[1] or sa[0] == sb[0]


def _pid_start(pid: int) -> str | None:
  """The kernel's start time of `pid` (tells a reused pid apart), if known."""
  try:
    with open(f'/proc/{pid}/stat') as f:
      return f.read().rpartition(')')[2].split()[19]
  except (OSError, IndexError):
    return None


def alive(record: dict) -> bool:
  """Whether a lock's holder may still run."""
  if record.get('host') != socket.gethostname():
    return record.get('expires', 0) > time.time()
  pid = record.get('pid')
  if not isinstance(pid, int) or pid <= 0:
    return False
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    pass  # another user's process: alive
  started = record.get('pid_start')
  return started is None or _pid_start(pid) in (None, started)


def describe(record: dict) -> str:
  since = record.get('start_time')
  when = time.strftime(' since %Y-%m-%d %H:%M:%S', time.localtime(since)) if isinstance(
      since, (int, float)) else ''
  return f'host {record.get("host", "?")} pid {record.get("pid", "?")}{when}'


def _parse(text: str) -> dict:
  try:
    record = json.loads(text)
  except json.JSONDecodeError:
    return {}  # torn (holder killed mid-write) or foreign: stale
  return record if isinstance(record, dict) else {}


class WorkdirLock:
  """`with WorkdirLock(dir, shard, wait):` holds the (workdir, shard) lock."""

  def __init__(self, workdir: str, shard: tuple[int, int] | None = None,
               wait: bool = False, out=None):
    self.directory = storage.join(workdir, 'locks')
    self.workdir = workdir
    self.name = lock_name(shard)
    self.path = storage.join(self.directory, self.name + '.lock')
    self.wait = wait
    self.out = out or sys.stderr
    pid = os.getpid()
    self.record = {'host': socket.gethostname(), 'pid': pid, 'pid_start': _pid_start(pid),
                   'start_time': time.time(), 'token': uuid.uuid4().hex}
    self.generation: int | None = None

  def _text(self) -> str:
    return json.dumps({**self.record, 'expires': time.time() + LEASE_S})

  def _take(self) -> dict | None:
    """Takes our own lock file; None, or the live holder's record."""
    for _ in range(5):  # a lost race re-reads
      current = storage.read_versioned(self.path)
      if current is None:
        self.generation = storage.write_versioned(self.path, self._text(), 0)
      else:
        record = _parse(current[0])
        if record.get('token') == self.record['token']:  # our create succeeded, its
          self.generation = current[1]                   # answer was lost: we hold it
          return None
        if alive(record):
          return record
        self.generation = storage.write_versioned(self.path, self._text(), current[1])
      if self.generation is not None:
        return None
    current = storage.read_versioned(self.path)
    return _parse(current[0]) if current else {}

  def _overlapping(self) -> dict | None:
    """A live lock of another slice that overlaps ours, if any."""
    for file in storage.listdir(self.directory):
      name = file[:-len('.lock')]
      if not file.endswith('.lock') or name == self.name or not overlaps(name, self.name):
        continue
      current = storage.read_versioned(storage.join(self.directory, file))
      record = _parse(current[0]) if current else {}
      if current and alive(record):
        return {**record, 'lock': name}
    return None

  def try_acquire(self) -> dict | None:
    """None once held; else the record of the process in the way."""
    storage.makedirs(self.directory)
    holder = self._take()
    if holder is None:
      holder = self._overlapping()
      if holder is not None:
        self.release()
    return holder

  def acquire(self) -> None:
    """Takes the lock, waiting if asked; ConfigError naming the holder if not."""
    said = False
    while (holder := self.try_acquire()) is not None:
      what = (f'workdir {self.workdir} is in use by {describe(holder)}'
              + (f' (running {holder["lock"]})' if 'lock' in holder else ''))
      if not self.wait:
        raise ConfigError(f'{what}; rerun with --wait_for_lock to wait for it, or remove '
                          f'{self.path} if that process is gone')
      if not said:
        print(f'lnexp.run: {what}; waiting for it', file=self.out, flush=True)
        said = True
      time.sleep(POLL_S)

  def renew(self) -> None:
    """Extends the lease (called at each checkpoint)."""
    if self.generation is not None:
      self.generation = storage.write_versioned(self.path, self._text(), self.generation)

  def release(self) -> None:
    """Removes our lock file (a failure leaves a stale lock: the next run takes it)."""
    if self.generation is not None:
      try:
        storage.delete_versioned(self.path, self.generation)
      except OSError:
        pass
      self.generation = None

  def __enter__(self) -> WorkdirLock:
    self.acquire()
    return self

  def __exit__(self, *exc) -> None:
    self.release()
