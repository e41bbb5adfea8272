"""The workdir lock: one process per (workdir, shard) at a time.

`DIR/locks/whole.lock` or `shard-I-of-N.lock`, a `storage.Lease` naming its
holder. It is stale when the holder's pid is gone (this host) or it was not
renewed for `LEASE_S` (another host). Shards lock only their own slice; an
unsharded run and any shard exclude each other.
"""
from __future__ import annotations

import contextlib
import os
import socket
import sys
import time

from lnexp.errors import ConfigError
from lnexp.runtime import storage

LEASE_S = 900.0  # a holder on another host renews at each checkpoint
POLL_S = 2.0


def _slice(name: str) -> tuple[int, int] | None:
  if not name.startswith('shard-'):
    return None
  index, _, count = name[len('shard-'):].partition('-of-')
  return int(index), int(count)


def overlaps(a: str, b: str) -> bool:
  """Whether two lock names can run the same groups (shards of one N cannot)."""
  sa, sb = _slice(a), _slice(b)
  return sa is None or sb is None or sa[1] != sb[1] or sa[0] == sb[0]


def _pid_start(pid: int) -> str | None:
  """The kernel's start time of `pid` (tells a reused pid apart), if known."""
  try:
    with open(f'/proc/{pid}/stat') as f:
      return f.read().rpartition(')')[2].split()[19]
  except (OSError, IndexError):
    return None


def describe(record: dict) -> str:
  since = record.get('start_time')
  when = time.strftime(' since %Y-%m-%d %H:%M:%S', time.localtime(since)) if isinstance(
      since, (int, float)) else ''
  return f'host {record.get("host", "?")} pid {record.get("pid", "?")}{when}'


class WorkdirLock(storage.Lease):
  """`with WorkdirLock(dir, shard, wait):` holds the (workdir, shard) lock."""

  def __init__(self, workdir: str, shard: tuple[int, int] | None = None,
               wait: bool = False, out=None, bounded=None):
    self.directory = storage.join(workdir, 'locks')
    self.workdir = workdir
    self.name = 'whole' if shard is None else f'shard-{shard[0]}-of-{shard[1]}'
    pid = os.getpid()
    super().__init__(storage.join(self.directory, self.name + '.lock'), LEASE_S, {
        'host': socket.gethostname(), 'pid': pid, 'pid_start': _pid_start(pid),
        'start_time': time.time()})
    self.wait = wait
    self.out = out or sys.stderr
    self.bounded = bounded or (lambda what: contextlib.nullcontext())  # Workdir.bounded

  def alive(self, record: dict) -> bool:
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

  def _overlapping(self) -> dict | None:
    """A live lock of another slice that overlaps ours, if any."""
    for file in storage.listdir(self.directory):
      name = file[:-len('.lock')]
      if not file.endswith('.lock') or name == self.name or not overlaps(name, self.name):
        continue
      record = storage.Lease(storage.join(self.directory, file)).holder()
      if record is not None and self.alive(record):
        return {**record, 'lock': name}
    return None

  def try_acquire(self) -> dict | None:
    """None once held; else the record of the process in the way."""
    storage.makedirs(self.directory)
    holder = super().acquire()
    if holder is None:
      holder = self._overlapping()
      if holder is not None:
        self.release()
    return holder

  def acquire(self) -> None:
    """Takes the lock, waiting if asked; ConfigError naming the holder if not."""
    said = False
    while True:
      with self.bounded('taking the workdir lock'):
        holder = self.try_acquire()
      if holder is None:
        return
      what = (f'workdir {self.workdir} is in use by {describe(holder)}'
              + (f' (running {holder["lock"]})' if 'lock' in holder else ''))
      if not self.wait:
        raise ConfigError(f'{what}; rerun with --wait_for_lock to wait for it, or remove '
                          f'{self.path} if that process is gone')
      if not said:
        print(f'lnexp.run: {what}; waiting for it', file=self.out, flush=True)
        said = True
      time.sleep(POLL_S)

  def release(self) -> None:
    with self.bounded('releasing the workdir lock'):
      super().release()

  def __enter__(self) -> WorkdirLock:
    self.acquire()
    return self

  def __exit__(self, *exc) -> None:
    self.release()
