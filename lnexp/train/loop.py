"""Runs one group of lanes: data, steps, eval, checkpoints, result rows.

The host waits on the device only at eval and checkpoint steps (metrics are
fetched one step late, the next batch is made on a thread). Batches are a pure
function of the step, so a run resumed from its checkpoint is bitwise the
uninterrupted one. Ctrl-C closes the checkpoints and raises `Interrupted`.
"""
from __future__ import annotations

import concurrent.futures
import errno
import time

import jax

from lnexp import config as config_lib
from lnexp.measure import positions
from lnexp.models.archs import ARCHS
from lnexp.models.norms import NORMS
from lnexp.runtime import interrupts
from lnexp.runtime import plan as plan_lib
from lnexp.runtime.workdir import Workdir
from lnexp.train import checkpoints
from lnexp.train.metrics_log import MetricsLog
from lnexp.train.program import Program, fetch
from lnexp.train.progress import Progress
from lnexp.train.rows import result_rows


class Interrupted(KeyboardInterrupt):
  """Ctrl-C or SIGTERM during a group; its text says where (lnexp.cli prints it)."""

  def __init__(self, message: str, exit_code: int = 130):
    super().__init__(message)
    self.exit_code = exit_code


class _Context:
  """What a group holds open, so an interrupt or error can close it."""

  def __init__(self):
    self.manager = self.batcher = self.progress = None
    self.step = self.checkpoint = None

  def close(self) -> None:
    """Closes everything, ignoring errors (the group failed already)."""
    interrupts.in_loop.clear()
    for close in (lambda: self.batcher.shutdown(cancel_futures=True),
                  lambda: self.progress.close(),
                  lambda: self.manager.wait_until_finished(),
                  lambda: self.manager.close()):
      try:
        close()
      except Exception:
        pass


def run_group(group: plan_lib.Group, source, workdir: Workdir, label: str, renew=None,
              checkpoint_on_term: bool = True) -> list[dict]:
  """Trains every lane of `group` to the end; returns and appends result rows.
  `renew` is called at each checkpoint; SIGTERM stops after the current step."""
  ctx = _Context()
  try:
    return _train(group, source, workdir, label, renew, ctx, checkpoint_on_term)
  except BaseException as e:
    with workdir.bounded('closing the checkpoints'):
      ctx.close()
    if checkpoints.disk_full(e):
      raise OSError(errno.ENOSPC, 'No space left on device',
                    workdir.checkpoints(group.group_id)) from None
    if isinstance(e, KeyboardInterrupt) and not isinstance(e, Interrupted):
      verb = 'terminated' if isinstance(e, interrupts.Terminated) else 'interrupted'
      where = (f'{verb} at step {ctx.step} of {label}' if ctx.step is not None
               else f'{verb} while starting {label}')
      raise Interrupted(where + (f' (last checkpoint: step {ctx.checkpoint})'
                                 if ctx.checkpoint else ''),
                        getattr(e, 'exit_code', 130)) from None
    raise


def _train(group, source, workdir, label, renew, ctx, checkpoint_on_term) -> list[dict]:
  t_start = time.time()
  cfg = config_lib.apply_overrides(group.config, {'model.vocab_size': source.vocab_size})
  tc = cfg.train
  program = Program(group, cfg)
  eval_batches = program.put_eval_batches(
      [source.eval_batch(i) for i in range(tc.eval_batches)])
  probe_batch = program.put_batch(source.eval_batch(0))
  with workdir.bounded('opening the checkpoints'):
    ctx.manager = checkpoints.manager(workdir.checkpoints(group.group_id),
                                      tc.keep_checkpoints)
  start, state, host = _start(program, cfg, source, eval_batches, ctx.manager, workdir)
  ctx.step = ctx.checkpoint = start
  primary = jax.process_index() == 0
  ctx.progress = Progress(label, tc.steps, start)
  log = MetricsLog(group, workdir, start, primary, ctx.progress)
  # Only this thread calls the source inside the loop (sources keep caches).
  ctx.batcher = concurrent.futures.ThreadPoolExecutor(1)
  next_batch = ctx.batcher.submit(source.train_batch, start)
  interrupts.in_loop.set()  # SIGTERM waits for the end of the step
  for step in range(start, tc.steps):
    done = step + 1
    if interrupts.terminating.is_set() and checkpoint_on_term and ctx.step > ctx.checkpoint:
      _checkpoint(ctx, workdir, log, state, host, renew, wait=True)
    interrupts.check()
    batch = program.put_batch(next_batch.result())
    if done < tc.steps:
      next_batch = ctx.batcher.submit(source.train_batch, done)
    diagnose, before = _measures(cfg, done)
    state, metrics = _step(program, state, batch, diagnose, before)
    ctx.step = done
    log.flush(host)  # the previous logged step's metrics
    if diagnose:  # fetched with the metrics, one step late like them
      metrics = {**metrics, 'probe': program.probe_stats(state, probe_batch)}
    if diagnose or before or done % tc.log_every == 0 or done == tc.steps:
      log.pending = (done, metrics)
    if done % tc.eval_every == 0 or done == tc.steps:
      log.flush(host)
      log.add_eval(done, _evaluate(program, cfg, state, eval_batches, host, done))
    if done % tc.checkpoint_every == 0 or done == tc.steps:
      _checkpoint(ctx, workdir, log, state, host, renew)
  interrupts.in_loop.clear()
  ctx.batcher.shutdown()
  log.flush(host)
  with workdir.bounded(f'finishing the step-{ctx.checkpoint} checkpoint'):
    log.write()
    ctx.manager.wait_until_finished()
    ctx.manager.close()
  ctx.progress.close()
  interrupts.check()  # one that arrived while orbax finished the last checkpoint
  if NORMS[cfg.model.norm].running_stats and ARCHS[cfg.model.arch].per_depth \
      and program.mesh.shape['data'] == 1:
    host['batch1'] = _eval_batch1(program, state, source)
  if cfg.diagnostics.position_losses and hasattr(source, 'log_probs'):
    host['positions'] = _position_losses(program, state, source, eval_batches)
  rows = result_rows(group, cfg, state, host, source, time.time() - t_start)
  if primary:
    workdir.append_results(rows)
  return rows


def _checkpoint(ctx, workdir, log, state, host, renew, wait: bool = False) -> None:
  """Writes the metrics, checkpoints step `ctx.step` and renews the lock (bounded)."""
  log.flush(host)
  with workdir.bounded(f'checkpointing at step {ctx.step}'):
    log.write()
    checkpoints.save(ctx.manager, ctx.step, state, host)
    if wait:
      ctx.manager.wait_until_finished()
    if renew is not None:
      renew()
  ctx.checkpoint = ctx.step


def _start(program, cfg, source, eval_batches, manager, workdir):
  """(step, lane state, host record): the newest checkpoint that restores, else init."""
  first = program.put_batch(source.train_batch(0))
  if manager.all_steps():
    abstract = jax.eval_shape(program.init, program.hp, first)
    with workdir.bounded('restoring a checkpoint'):
      restored = checkpoints.restore_latest(manager, jax.tree.map(
          lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=program.lane_sharding),
          abstract))
    if restored is not None:
      step, state, host = restored
      return int(step), state, host
  state = program.init(program.hp, first)
  # Measured the way training sees the model: a norm with running statistics
  # normalizes with batch statistics (its running ones start as the identity).
  measure = (program.eval_loss_batch_stats if NORMS[cfg.model.norm].running_stats
             else program.eval_loss)
  init_loss = measure(state, eval_batches)
  host = {'init_loss': fetch(init_loss).tolist(), 'evals': [],
          'last_train_loss': [None] * program.padded_lanes, 'probe_stats': {}}
  return 0, {**state, 'init_loss': init_loss}, host


def _measures(cfg, done: int) -> tuple[bool, tuple[str, ...]]:
  """Whether step `done` takes the diagnostics (step 1 always), and which
  measures of the state before it: 'ics' and 'smoothness' (Santurkar et al.)."""
  d = cfg.diagnostics
  diagnose = d.enabled and (done % (d.every or cfg.train.log_every) == 0 or done == 1)
  ics_every = d.ics_every if (d.enabled and cfg.model.share == 'none'
                              and ARCHS[cfg.model.arch].per_depth) else 0
  smooth_every = d.smoothness_every if d.enabled else 0
  before = (('ics',) if ics_every and done % ics_every == 0 else ()) + (
      ('smoothness',) if smooth_every and (done % smooth_every == 0 or done == 1) else ())
  return diagnose, before


def _step(program, state, batch, diagnose: bool, before: tuple[str, ...]):
  """One training step of every lane; `before`'s measures need the state before it."""
  measured = {}
  if 'ics' in before:
    measured.update(program.santurkar_ics(state, program.hp, batch))
  if 'smoothness' in before:
    measured.update(program.smoothness(state, program.hp, batch))
  step_fn = program.diag_step if diagnose else program.train_step
  state, metrics = step_fn(state, program.hp, batch)
  return state, {**metrics, **measured}


def _evaluate(program, cfg, state, eval_batches, host: dict, done: int) -> dict:
  """Eval losses per lane (and accuracy for classifiers), recorded in `host`."""
  losses = {'eval_loss': fetch(program.eval_loss(state, eval_batches)).tolist()}
  if NORMS[cfg.model.norm].running_stats:
    losses['eval_loss_batch_stats'] = fetch(
        program.eval_loss_batch_stats(state, eval_batches)).tolist()
  if ARCHS[cfg.model.arch].images:
    losses['eval_accuracy'] = fetch(program.eval_accuracy(state, eval_batches)).tolist()
  host['evals'].append([done, losses['eval_loss']])
  host['last_eval_batch_stats'] = losses.get('eval_loss_batch_stats')
  host['last_eval_accuracy'] = losses.get('eval_accuracy')
  return losses


def _position_losses(program, state, source, eval_batches) -> dict[str, list]:
  """Per lane, eval loss by position with the source's exact references."""
  batches = [source.eval_batch(i) for i in range(len(eval_batches['inputs']))]
  lanes_NxBxT = fetch(program.eval_token_losses(state, eval_batches))
  refs = positions.reference_losses(source, batches)
  return {'position_loss': [positions.model_losses(x, batches) for x in lanes_NxBxT],
          **{k: [v] * len(lanes_NxBxT) for k, v in refs.items()}}


BATCH1_SEQUENCES = 8


def _eval_batch1(program, state, source) -> dict[str, list[float]]:
  """Eval losses of eval batch 0's first sequences one at a time, with their own
  and with running statistics (docs/diagnostics.md)."""
  first = source.eval_batch(0)
  singles = program.put_eval_batches([{k: v[i:i + 1] for k, v in first.items()} for i in
                                      range(min(BATCH1_SEQUENCES, len(first['inputs'])))])
  return {'batch1_loss_batch_stats': fetch(program.eval_loss_batch_stats(state, singles)),
          'batch1_loss_running': fetch(program.eval_loss(state, singles))}
