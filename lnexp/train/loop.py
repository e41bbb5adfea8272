"""Runs one group of lanes: data, steps, eval, logging, checkpoints, result rows.

The host never waits on the device inside the loop except at eval and
checkpoint steps: a logged step's metrics are fetched after the next step has
been dispatched, and the next batch is made on a thread (on CPU the entry
points run programs on the calling thread: lnexp.host_memory). Resuming
restores the lane state and the host-side record (init loss, evals so far)
from the latest orbax checkpoint that restores (a damaged newer one is
reported and deleted); batches are a pure function of the step, so the
resumed run is bitwise the uninterrupted one. Ctrl-C closes the checkpoint
manager (no half-written checkpoint, no background-thread noise) and raises
`Interrupted`, which says at which step.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import gc
import os
import shutil
import sys
import tempfile
import time
import traceback

import jax
import numpy as np

from lnexp.data import make_source
from lnexp.errors import ConfigError
from lnexp.measure import diagnostics, labels, perturbation
from lnexp.models.archs import ARCHS
from lnexp.models.norms import NORMS
from lnexp.runtime import interrupts, storage, tensorboard
from lnexp.runtime import plan as plan_lib
from lnexp.runtime.workdir import Workdir, append_jsonl
from lnexp.train.program import Program, fetch
from lnexp.train.steps import DIVERGED_EXPLODED


def _checkpoint_manager(path: str, keep: int):
  import orbax.checkpoint as ocp
  return ocp.CheckpointManager(path, options=ocp.CheckpointManagerOptions(
      max_to_keep=keep, create=True))


def _save(manager, step: int, state, host: dict) -> None:
  import orbax.checkpoint as ocp
  manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                             host=ocp.args.JsonSave(host)))


def _restore(manager, step: int, abstract_state):
  import orbax.checkpoint as ocp
  restored = manager.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract_state), host=ocp.args.JsonRestore()))
  return restored['state'], restored['host']


def _check_space(directory: str, state) -> None:
  """OSError(ENOSPC) before a save the disk cannot hold: orbax writes in
  background threads, and a full disk there is dozens of tracebacks."""
  if storage.is_remote(directory):
    return
  need = sum(x.nbytes for x in jax.tree.leaves(state)) * 1.05 + 2**18  # + metadata
  free = shutil.disk_usage(directory).free
  if free < need:
    raise OSError(errno.ENOSPC, f'No space left on device ({free / 2**20:.2f} MiB free, '
                  f'a checkpoint needs ~{need / 2**20:.2f} MiB)', directory)


def _disk_full(e: BaseException) -> bool:
  """Whether orbax failed on a full disk (it re-raises its writers' errors as
  ValueError: RESOURCE_EXHAUSTED ... No space left on device)."""
  return isinstance(e, Exception) and not isinstance(e, OSError) and (
      'No space left on device' in str(e) or 'RESOURCE_EXHAUSTED: Error writing' in str(e))


def _everywhere(ok: bool) -> bool:
  """True if `ok` on every process (one collective in a multi-host run)."""
  if jax.process_count() == 1:
    return ok
  from jax.experimental import multihost_utils
  return bool(np.all(multihost_utils.process_allgather(np.int32(ok))))


def _reason(e: BaseException) -> str:
  text = ' '.join(str(e).split())
  return f'{type(e).__name__}: {text[:160]}' + ('...' if len(text) > 160 else '')


@contextlib.contextmanager
def _stderr_to(path: str):
  """Sends file descriptor 2 (every thread's, and C++'s, stderr) to `path`."""
  sys.stderr.flush()
  saved = os.dup(2)
  with open(path, 'w') as f:
    os.dup2(f.fileno(), 2)
  try:
    yield
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)


def _orbax_unraisables_to(log: str) -> None:
  """From now on, exceptions Python cannot raise ('Exception ignored in: ...')
  that come from orbax code go to `log`, others to the previous hook."""
  previous = sys.unraisablehook

  def hook(unraisable):
    frames = traceback.walk_tb(unraisable.exc_traceback)
    if any(f'{os.sep}orbax{os.sep}' in frame.f_code.co_filename for frame, _ in frames):
      with open(log, 'a') as f:
        traceback.print_exception(unraisable.exc_value, file=f)
      return
    previous(unraisable)
  sys.unraisablehook = hook


def _try_restore(manager, step: int, abstract_state, log: str):
  """((state, host), None) or (None, reason). A failed restore leaves orbax's
  in-flight reads failing in other threads and coroutines (hundreds of lines
  of 'Event loop is closed' and TensorStore specs, some at exit): they go to
  `log`; after a success what was written meanwhile is replayed."""
  with _stderr_to(log):
    try:
      restored, reason = _restore(manager, step, abstract_state), None
    except Exception as e:  # orbax raises what its storage layer raised
      restored, reason = None, _reason(e)
      _orbax_unraisables_to(log)
      gc.collect()  # the abandoned reads' coroutines report now
      time.sleep(0.2)
  with open(log) as f:
    text = f.read()
  if reason is None or not text:
    os.remove(log)
    sys.stderr.write(text)
  return restored, reason


def restore_latest(manager, abstract_state, out=None):
  """(step, state, host) of the newest checkpoint that restores; None if none.

  A checkpoint that fails to restore is reported in one line (orbax's own
  output goes to restore-GROUP-STEP.pK.log beside it, or in /tmp for gs://)
  and deleted, and the next older
  one is tried; every process tries the same steps in the same order and
  agrees on each outcome (`_everywhere`), so a multi-host run falls back to
  one step. ConfigError naming the directory if none restores.
  """
  out = out or sys.stderr
  steps = sorted(manager.all_steps(), reverse=True)
  for i, step in enumerate(steps):
    directory = str(manager.directory)  # the log stays local (a gs:// one in /tmp)
    log = os.path.join(tempfile.gettempdir() if storage.is_remote(directory) else directory,
                       f'restore-{os.path.basename(directory)}-{step}'
                       f'.p{jax.process_index()}.log')
    restored, reason = _try_restore(manager, step, abstract_state, log)
    if _everywhere(reason is None):
      for bad in steps[:i]:
        manager.delete(bad)
      return (step, *restored)
    if jax.process_index() == 0:
      then = f'falling back to step {steps[i + 1]}' if i + 1 < len(steps) else ''
      details = f'; details in {log}' if os.path.exists(log) else ''
      print(f'lnexp.run: checkpoint {manager.directory}/{step} does not restore '
            f'({reason or "on another process"}{details}); {then or "none left"}',
            file=out, flush=True)
  if steps:
    raise ConfigError(f'no checkpoint in {manager.directory} restores (steps '
                      f'{", ".join(map(str, steps))}); move that directory away to train '
                      'the group from the start')
  return None


class Interrupted(KeyboardInterrupt):
  """Ctrl-C during a group; its text says where (lnexp.cli prints it)."""


class _Context:
  """What a group holds open, so an interrupt or error can close it."""

  def __init__(self):
    self.manager = self.batcher = self.progress = None
    self.step = self.checkpoint = None

  def close(self) -> None:
    """Closes everything, ignoring errors (the group failed already)."""
    for close in (lambda: self.batcher.shutdown(cancel_futures=True),
                  lambda: self.progress.close(),
                  lambda: self.manager.wait_until_finished(),
                  lambda: self.manager.close()):
      try:
        close()
      except Exception:
        pass


class Progress:
  """A tqdm bar on a terminal; plain periodic lines otherwise."""

  def __init__(self, label: str, total: int, start: int):
    self.label, self.total = label, total
    self.tty = sys.stderr.isatty()
    self.t0 = time.time()
    self.start = start
    self.bar = None
    if self.tty:
      from tqdm import tqdm
      self.bar = tqdm(total=total, initial=start, desc=label, leave=False)

  def update(self, step: int, losses: np.ndarray, diverged: int) -> None:
    alive = losses[np.isfinite(losses)]
    text = (f'best {alive.min():.3f} worst {alive.max():.3f} ' if alive.size else '') + \
        f'diverged {diverged}'
    if self.bar is not None:
      self.bar.n = step
      self.bar.set_postfix_str(text)
      return
    elapsed = time.time() - self.t0
    rate = (step - self.start) / max(elapsed, 1e-9)
    eta = (self.total - step) / max(rate, 1e-9)
    print(f'{self.label} step {step}/{self.total} {text} eta {eta:.0f}s', flush=True)

  def close(self) -> None:
    if self.bar is not None:
      self.bar.close()


def run_group(group: plan_lib.Group, workdir: Workdir, label: str = '',
              devices=None, renew=None) -> list[dict]:
  """Trains every lane of `group` to the end; returns and appends result rows.

  `renew` is called at each checkpoint (the workdir lock's lease).
  """
  ctx = _Context()
  try:
    return _run_group(group, workdir, label, devices, renew, ctx)
  except BaseException as e:
    ctx.close()
    if _disk_full(e):
      raise OSError(errno.ENOSPC, 'No space left on device',
                    workdir.checkpoints(group.group_id)) from None
    if isinstance(e, KeyboardInterrupt) and not isinstance(e, Interrupted):
      label = label or f'group {group.group_id}'
      where = (f'interrupted at step {ctx.step} of {label}' if ctx.step is not None
               else f'interrupted while starting {label}')
      raise Interrupted(where + (f' (last checkpoint: step {ctx.checkpoint})'
                                 if ctx.checkpoint else '')) from None
    raise


def _run_group(group, workdir, label, devices, renew, ctx) -> list[dict]:
  t_start = time.time()
  cfg = group.config
  source = make_source(cfg)
  cfg.model.vocab_size = source.vocab_size
  tc = cfg.train
  program = Program(group, cfg, devices)
  ids = [p.point_id for p in group.points]
  eval_batches = program.put_eval_batches(
      [source.eval_batch(i) for i in range(tc.eval_batches)])
  manager = ctx.manager = _checkpoint_manager(workdir.checkpoints(group.group_id),
                                             tc.keep_checkpoints)
  primary = jax.process_index() == 0

  restored = None
  if manager.all_steps():
    abstract = jax.eval_shape(program.init, program.hp,
                              program.put_batch(source.train_batch(0)))
    restored = restore_latest(manager, jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=program.lane_sharding),
        abstract))
  latest = None if restored is None else restored[0]
  if latest is None:
    state = program.init(program.hp, program.put_batch(source.train_batch(0)))
    # Measured the way training sees the model: a norm with running statistics
    # normalizes with batch statistics (its running ones start as the identity).
    measure = (program.eval_loss_batch_stats if NORMS[cfg.model.norm].running_stats
               else program.eval_loss)
    init_loss = measure(state, eval_batches)
    state = {**state, 'init_loss': init_loss}
    host = {'init_loss': fetch(init_loss).tolist(), 'evals': [],
            'last_train_loss': [None] * program.padded_lanes, 'probe_stats': {}}
    for pid in ids if primary else ():
      workdir.reset_metrics(pid)
  else:
    _, state, host = restored
    for pid in ids if primary else ():
      workdir.keep_metrics_until(pid, latest)

  start = ctx.step = ctx.checkpoint = int(latest or 0)
  events = {p.point_id: tensorboard.start(
      workdir.tensorboard(tensorboard.run_name(p.config, p.point_id)), start,
      tensorboard.hparams(p.config, p.overrides, p.point_id))
      for p in group.points} if primary else {}
  progress = ctx.progress = Progress(label or group.group_id, tc.steps, start)
  pending = None      # (step, device metrics) of the last logged step
  buffered = {pid: [] for pid in ids}

  def flush_pending():
    nonlocal pending
    if pending is None:
      return
    step, metrics = pending
    metrics = fetch(metrics)
    if 'probe' in metrics:
      metrics.update(_drift(host, metrics.pop('probe')))
    diverged = int(metrics.pop('diverged')[:len(ids)].sum())
    host['last_train_loss'] = metrics['train_loss'].tolist()
    for lane, pid in enumerate(ids):
      buffered[pid].append({'step': step, **{
          k: v[lane].tolist() for k, v in metrics.items()
          if not k.endswith(('feat_mean', 'feat_var'))}})
    progress.update(step, metrics['train_loss'][:len(ids)], diverged)
    pending = None

  def write_buffered():
    if not primary:  # only process 0 writes metrics, TensorBoard and results
      return
    for pid in ids:
      append_jsonl(workdir.metrics(pid), buffered[pid])
    tensorboard.append({events[pid]: buffered[pid] for pid in ids})
    for pid in ids:
      buffered[pid] = []
    workdir.sync()  # gs://: upload staged metrics and TensorBoard files

  diag_every = cfg.diagnostics.every or tc.log_every
  ics_every = cfg.diagnostics.ics_every if (
      cfg.diagnostics.enabled and cfg.model.share == 'none'
      and ARCHS[cfg.model.arch].per_depth) else 0
  probe_batch = program.put_batch(source.eval_batch(0))
  # Only this thread calls the source inside the loop (sources keep caches).
  batcher = ctx.batcher = concurrent.futures.ThreadPoolExecutor(1)
  next_batch = batcher.submit(source.train_batch, start)
  for step in range(start, tc.steps):
    done = step + 1
    interrupts.check()
    batch = program.put_batch(next_batch.result())
    if done < tc.steps:
      next_batch = batcher.submit(source.train_batch, done)
    diagnose = cfg.diagnostics.enabled and (done % diag_every == 0 or done == 1)
    ics = None
    if ics_every and done % ics_every == 0:  # before the step: it needs this state
      ics = program.santurkar_ics(state, program.hp, batch)
    step_fn = program.diag_step if diagnose else program.train_step
    state, metrics = step_fn(state, program.hp, batch)
    ctx.step = done
    if ics is not None:
      metrics = {**metrics, **ics}
    flush_pending()
    if diagnose:  # fetched with the metrics, one step late like them
      metrics = {**metrics, 'probe': program.probe_stats(state, probe_batch)}
    if diagnose or ics is not None or done % tc.log_every == 0 or done == tc.steps:
      pending = (done, metrics)
    if done % tc.eval_every == 0 or done == tc.steps:
      flush_pending()
      losses = {'eval_loss': fetch(program.eval_loss(state, eval_batches)).tolist()}
      if NORMS[cfg.model.norm].running_stats:
        losses['eval_loss_batch_stats'] = fetch(
            program.eval_loss_batch_stats(state, eval_batches)).tolist()
      if ARCHS[cfg.model.arch].images:
        losses['eval_accuracy'] = fetch(program.eval_accuracy(state, eval_batches)).tolist()
      host['evals'].append([done, losses['eval_loss']])
      host['last_eval_batch_stats'] = losses.get('eval_loss_batch_stats')
      host['last_eval_accuracy'] = losses.get('eval_accuracy')
      for lane, pid in enumerate(ids):
        if not (buffered[pid] and buffered[pid][-1]['step'] == done):
          buffered[pid].append({'step': done})
        buffered[pid][-1].update({k: v[lane] for k, v in losses.items()})
    if done % tc.checkpoint_every == 0 or done == tc.steps:
      flush_pending()
      write_buffered()
      _check_space(str(manager.directory), state)
      _save(manager, done, state, host)
      ctx.checkpoint = done
      if renew is not None:
        renew()
  batcher.shutdown()
  flush_pending()
  write_buffered()
  manager.wait_until_finished()
  manager.close()
  progress.close()
  interrupts.check()  # one that arrived while orbax finished the last checkpoint
  if NORMS[cfg.model.norm].running_stats and ARCHS[cfg.model.arch].per_depth \
      and program.mesh.shape['data'] == 1:
    host['batch1'] = _eval_batch1(program, state, source)
  rows = _result_rows(group, cfg, state, host, source, time.time() - t_start)
  if primary:
    append_jsonl(workdir.results, rows)
  return rows


def _drift(host: dict, stats) -> dict:
  """ICS drift vs the previous diagnostic step; keeps this step's moments."""
  stats = {k: np.asarray(v) for k, v in stats.items()}
  out = diagnostics.drift({k: np.asarray(v) for k, v in host['probe_stats'].items()},
                          stats)
  host['probe_stats'] = {k: v.tolist() for k, v in stats.items()}
  return out


BATCH1_SEQUENCES = 8


def _eval_batch1(program, state, source) -> dict[str, list[float]]:
  """Eval losses when inference sees one sequence at a time (the article's
  low-resource setting), on eval batch 0's first sequences: each normalised with
  its own batch statistics, and with the running statistics (the same tokens)."""
  first = source.eval_batch(0)
  singles = program.put_eval_batches([{k: v[i:i + 1] for k, v in first.items()} for i in
                                      range(min(BATCH1_SEQUENCES, len(first['inputs'])))])
  return {'batch1_loss_batch_stats': fetch(program.eval_loss_batch_stats(state, singles)),
          'batch1_loss_running': fetch(program.eval_loss(state, singles))}


def _perturbation(cfg, state, lane: int, batch) -> dict:
  """The trained lane's error amplification and KL (lnexp.measure.perturbation)."""
  from lnexp.models.model import ModelConfig
  variables = jax.tree.map(lambda a: np.asarray(a[lane]), {
      'params': state['params'], 'batch_stats': state['batch_stats']})
  out = perturbation.measure(ModelConfig.from_config(cfg), variables, batch,
                             seed=cfg.train.seed)
  return {'perturb_amplification': float(out['amplification']),
          'perturb_kl': float(out['kl'])}


def _result_rows(group, cfg, state, host, source, wall_s: float) -> list[dict]:
  diverged_step = fetch(state['diverged_step'])
  reason = fetch(state['diverged_reason'])
  steps = fetch(state['step'])
  evals = host['evals']
  batch_stats_losses = host.get('last_eval_batch_stats')  # BatchNorm only
  accuracy = host.get('last_eval_accuracy')  # classification only
  eval_set = [source.eval_batch(i) for i in range(group.config.train.eval_batches)]
  unigram = None if accuracy else labels.unigram_entropy(eval_set)
  examples = sum(int(b['loss_mask'].sum()) for b in eval_set)
  references = ({f'{k}_loss': v for k, v in source.eval_losses.items() if k != 'unigram'}
                if hasattr(source, 'eval_losses') else {})  # topics: bayes, context_free
  perturb = cfg.diagnostics.perturbation and ARCHS[cfg.model.arch].per_depth
  rows = []
  for lane, point in enumerate(group.points):
    lane_evals = [e[1][lane] for e in evals if e[1][lane] is not None
                  and np.isfinite(e[1][lane])]
    div = int(diverged_step[lane])
    rows.append({
        'point_id': point.point_id, **point.overrides,
        'group': group.group_id, 'lane': lane,
        'status': 'ok' if div < 0 else 'diverged',
        'diverged_step': div if div >= 0 else None,
        'diverged_reason': None if div < 0 else (
            'loss_exploded' if reason[lane] == DIVERGED_EXPLODED else 'nonfinite'),
        'init_loss': host['init_loss'][lane],
        'final_train_loss': host['last_train_loss'][lane],
        'final_eval_loss': lane_evals[-1] if lane_evals else None,
        'best_eval_loss': min(lane_evals) if lane_evals else None,
        'final_eval_loss_batch_stats': batch_stats_losses[lane] if batch_stats_losses
                                       else None,
        **{k: float(v[lane]) for k, v in host.get('batch1', {}).items()},
        'final_eval_accuracy': accuracy[lane] if accuracy else None,
        'steps': int(steps[lane]),
        'wall_s': wall_s, 'entropy_floor': source.entropy_floor,
        'unigram_entropy': unigram, 'vocab_size': source.vocab_size, **references})
    last = rows[-1]
    if perturb:
      last.update(_perturbation(cfg, state, lane, eval_set[0]) if div < 0 else
                  {'perturb_amplification': None, 'perturb_kl': None})
    last['collapsed'] = None if div >= 0 else (
        labels.classifier_collapsed(last['final_eval_accuracy'], source.vocab_size, examples)
        if accuracy else
        labels.lm_collapsed(last['final_eval_loss'], unigram, source.entropy_floor))
  return rows
