"""A group's per-point step metrics: fetched one step late, written at checkpoints.

Held metrics are fetched once the next step is dispatched, so the host does not
wait for them; rows go to metrics/POINT_ID.jsonl and TensorBoard at each
checkpoint (process 0), so a resumed run rewrites nothing it kept.
"""
from __future__ import annotations

import numpy as np

from lnexp.measure import diagnostics
from lnexp.runtime import tensorboard
from lnexp.runtime.workdir import Workdir, append_jsonl
from lnexp.train.program import fetch
from lnexp.train.progress import Progress


class MetricsLog:

  def __init__(self, group, workdir: Workdir, start: int, primary: bool,
               progress: Progress):
    self.ids = [p.point_id for p in group.points]
    self.workdir, self.primary, self.progress = workdir, primary, progress
    self.rows = {pid: [] for pid in self.ids}
    self.pending = None  # (step, device metrics) of the last logged step
    self.events = {}
    for p in group.points if primary else ():
      if start:  # drop rows written after the checkpoint we resume from
        workdir.keep_metrics_until(p.point_id, start)
      else:
        workdir.reset_metrics(p.point_id)
      self.events[p.point_id] = tensorboard.start(
          workdir.tensorboard(tensorboard.run_name(p.config, p.point_id)), start,
          tensorboard.hparams(p.config, p.overrides, p.point_id))

  def flush(self, host: dict) -> None:
    """Fetches the held metrics into rows; the ICS drift's moments and the last
    train losses go to the checkpointed `host` record."""
    if self.pending is None:
      return
    step, metrics = self.pending
    metrics = fetch(metrics)
    if 'probe' in metrics:
      metrics.update(_drift(host, metrics.pop('probe')))
    diverged = int(metrics.pop('diverged')[:len(self.ids)].sum())
    host['last_train_loss'] = metrics['train_loss'].tolist()
    for lane, pid in enumerate(self.ids):
      self.rows[pid].append({'step': step, **{
          k: v[lane].tolist() for k, v in metrics.items()
          if not k.endswith(('feat_mean', 'feat_var'))}})
    self.progress.update(step, metrics['train_loss'][:len(self.ids)], diverged)
    self.pending = None

  def add_eval(self, step: int, losses: dict[str, list]) -> None:
    """Eval losses (per lane) join the row of `step`."""
    for lane, pid in enumerate(self.ids):
      if not (self.rows[pid] and self.rows[pid][-1]['step'] == step):
        self.rows[pid].append({'step': step})
      self.rows[pid][-1].update({k: v[lane] for k, v in losses.items()})

  def write(self) -> None:
    """Appends the buffered rows to the metrics files and TensorBoard."""
    if not self.primary:  # only process 0 writes metrics, TensorBoard and results
      return
    for pid in self.ids:
      append_jsonl(self.workdir.metrics(pid), self.rows[pid])
    tensorboard.append({self.events[pid]: self.rows[pid] for pid in self.ids})
    for pid in self.ids:
      self.rows[pid] = []
    self.workdir.sync()  # gs://: upload staged metrics and TensorBoard files


def _drift(host: dict, stats) -> dict:
  """ICS drift vs the previous diagnostic step; keeps this step's moments."""
  stats = {k: np.asarray(v) for k, v in stats.items()}
  out = diagnostics.drift({k: np.asarray(v) for k, v in host['probe_stats'].items()},
                          stats)
  host['probe_stats'] = {k: v.tolist() for k, v in stats.items()}
  return out
