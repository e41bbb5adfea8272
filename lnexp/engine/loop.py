"""Runs one group of lanes: data, steps, eval, logging, checkpoints, result rows.

The host never waits on the device inside the loop except at eval and
checkpoint steps: a logged step's metrics are fetched after the next step has
been dispatched, and the next batch is made on a thread (on CPU the entry
points run programs on the calling thread: lnexp.host_memory). Resuming
restores the lane state and the host-side record (init loss, evals so far)
from the latest orbax checkpoint; batches are a pure function of the step, so
the resumed run is bitwise the uninterrupted one.
"""
from __future__ import annotations

import concurrent.futures
import sys
import time

import jax
import numpy as np

from lnexp import diagnostics
from lnexp.engine import plan as plan_lib
from lnexp.engine import tensorboard
from lnexp.data import make_source
from lnexp.engine.program import Program, fetch
from lnexp.steps import DIVERGED_EXPLODED
from lnexp.engine.workdir import Workdir, append_jsonl


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
              devices=None) -> list[dict]:
  """Trains every lane of `group` to the end; returns and appends result rows."""
  t_start = time.time()
  cfg = group.config
  source = make_source(cfg)
  cfg.model.vocab_size = source.vocab_size
  tc = cfg.train
  program = Program(group, cfg, devices)
  ids = [p.point_id for p in group.points]
  eval_batches = program.put_eval_batches(
      [source.eval_batch(i) for i in range(tc.eval_batches)])
  manager = _checkpoint_manager(workdir.checkpoints(group.group_id), tc.keep_checkpoints)
  primary = jax.process_index() == 0

  latest = manager.latest_step()
  if latest is None:
    state = program.init(program.hp, program.put_batch(source.train_batch(0)))
    init_loss = program.eval_loss(state, eval_batches)
    state = {**state, 'init_loss': init_loss}
    host = {'init_loss': fetch(init_loss).tolist(), 'evals': [],
            'last_train_loss': [None] * program.padded_lanes, 'probe_stats': {}}
    for pid in ids if primary else ():
      open(workdir.metrics(pid), 'w').close()
  else:
    abstract = jax.eval_shape(program.init, program.hp,
                              program.put_batch(source.train_batch(0)))
    abstract = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=program.lane_sharding),
        abstract)
    state, host = _restore(manager, latest, abstract)
    for pid in ids if primary else ():
      workdir.keep_metrics_until(pid, latest)

  start = int(latest or 0)
  progress = Progress(label or group.group_id, tc.steps, start)
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
    tensorboard.write_scalars({workdir.tensorboard(pid): buffered[pid] for pid in ids})
    for pid in ids:
      buffered[pid] = []

  diag_every = cfg.diagnostics.every or tc.log_every
  ics_every = cfg.diagnostics.ics_every if (
      cfg.diagnostics.enabled and cfg.model.share == 'none'
      and cfg.model.arch == 'albert_gpt') else 0
  probe_batch = program.put_batch(source.eval_batch(0))
  # Only this thread calls the source inside the loop (sources keep caches).
  batcher = concurrent.futures.ThreadPoolExecutor(1)
  next_batch = batcher.submit(source.train_batch, start)
  for step in range(start, tc.steps):
    done = step + 1
    batch = program.put_batch(next_batch.result())
    if done < tc.steps:
      next_batch = batcher.submit(source.train_batch, done)
    diagnose = cfg.diagnostics.enabled and (done % diag_every == 0 or done == 1)
    ics = None
    if ics_every and done % ics_every == 0:  # before the step: it needs this state
      ics = program.santurkar_ics(state, program.hp, batch)
    step_fn = program.diag_step if diagnose else program.train_step
    state, metrics = step_fn(state, program.hp, batch)
    if ics is not None:
      metrics = {**metrics, 'ics_santurkar': ics}
    flush_pending()
    if diagnose:  # fetched with the metrics, one step late like them
      metrics = {**metrics, 'probe': program.probe_stats(state, probe_batch)}
    if diagnose or ics is not None or done % tc.log_every == 0 or done == tc.steps:
      pending = (done, metrics)
    if done % tc.eval_every == 0 or done == tc.steps:
      flush_pending()
      losses = {'eval_loss': fetch(program.eval_loss(state, eval_batches)).tolist()}
      if cfg.model.norm == 'batchnorm':
        losses['eval_loss_batch_stats'] = fetch(
            program.eval_loss_batch_stats(state, eval_batches)).tolist()
      if cfg.model.arch == 'cnn':
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
      _save(manager, done, state, host)
  batcher.shutdown()
  flush_pending()
  write_buffered()
  manager.wait_until_finished()
  manager.close()
  progress.close()
  rows = _result_rows(group, state, host, source, time.time() - t_start)
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


def _result_rows(group, state, host, source, wall_s: float) -> list[dict]:
  diverged_step = fetch(state['diverged_step'])
  reason = fetch(state['diverged_reason'])
  steps = fetch(state['step'])
  evals = host['evals']
  batch_stats_losses = host.get('last_eval_batch_stats')  # BatchNorm only
  accuracy = host.get('last_eval_accuracy')  # classification only
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
        'final_eval_accuracy': accuracy[lane] if accuracy else None,
        'steps': int(steps[lane]),
        'wall_s': wall_s, 'entropy_floor': source.entropy_floor,
        'vocab_size': source.vocab_size})
  return rows
