"""One group's compiled program: lane-vmapped, jitted, sharded over a device mesh.

Lanes go on a 'lane' mesh axis (padded with copies of the last lane to fill
it), the batch on a 'data' axis, so a TPU pod runs hundreds of points at once
and one CPU runs a sweep as one program.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from lnexp import plan as plan_lib
from lnexp.model import ModelConfig
from lnexp.optimizer import OptimConfig
from lnexp.steps import LaneFns


@functools.lru_cache(maxsize=32)
def _compiled(fns: LaneFns, lanes: NamedSharding):
  """Jitted lane-vmapped functions, shared by groups of identical structure.

  Init maps over lanes with `lax.map` (batched RNG compiles slowly); the step
  and eval are `vmap`-ed so lanes share each matmul. The diagnostic step is
  compiled on first use only, as is Santurkar et al.'s ICS (extra passes).
  """
  init = jax.jit(lambda hp, batch: jax.lax.map(lambda h: fns.init(h, batch), hp),
                 out_shardings=lanes)
  def step(diagnose):
    return jax.jit(jax.vmap(functools.partial(fns.train_step, diagnose=diagnose),
                            in_axes=(0, 0, None)),
                   donate_argnums=0, out_shardings=(lanes, lanes))
  eval_loss = jax.jit(jax.vmap(fns.eval_loss, in_axes=(0, None)), out_shardings=lanes)
  probe_stats = jax.jit(jax.vmap(fns.probe_stats, in_axes=(0, None)),
                        out_shardings=lanes)
  ics = jax.jit(jax.vmap(fns.santurkar_ics, in_axes=(0, 0, None)), out_shardings=lanes)
  return init, step(False), step(True), eval_loss, probe_stats, ics


def mesh_shape(num_devices: int, lanes: int, batch_size: int) -> tuple[int, int]:
  """(lane, data) axis sizes: lanes first, leftover devices split the batch."""
  lane = max(d for d in range(1, num_devices + 1)
             if num_devices % d == 0 and d <= max(lanes, 1))
  data = num_devices // lane
  if batch_size % data:
    lane, data = num_devices, 1
  return lane, data


class Program:
  """Compiled init/train/eval for the lanes of one group."""

  def __init__(self, group: plan_lib.Group, cfg, devices=None):
    devices = devices if devices is not None else jax.devices()
    self.num_lanes = len(group.points)
    lane_size, data_size = mesh_shape(len(devices), self.num_lanes, cfg.train.batch_size)
    self.padded_lanes = math.ceil(self.num_lanes / lane_size) * lane_size
    self.mesh = Mesh(np.asarray(devices).reshape(lane_size, data_size), ('lane', 'data'))
    self.lane_sharding = NamedSharding(self.mesh, P('lane'))
    self.batch_sharding = NamedSharding(self.mesh, P('data'))
    self.eval_sharding = NamedSharding(self.mesh, P(None, 'data'))
    self.fns = LaneFns(ModelConfig.from_config(cfg), OptimConfig.from_config(cfg),
                       cfg.train.steps, cfg.train.diverge_factor)
    self.hp = self._lane_arrays(group.lane_hparams())
    (self.init, self.train_step, self.diag_step, self.eval_loss, self.probe_stats,
     self.santurkar_ics) = _compiled(self.fns, self.lane_sharding)

  def _lane_arrays(self, hp: dict[str, list]) -> dict[str, jax.Array]:
    pad = self.padded_lanes - self.num_lanes
    out = {}
    for name, values in hp.items():
      dtype = jnp.int32 if name == 'seed' else jnp.float32
      out[name] = jax.device_put(np.asarray(values + values[-1:] * pad, dtype),
                                 self.lane_sharding)
    return out

  def put_batch(self, batch: dict[str, np.ndarray]) -> dict[str, jax.Array]:
    return jax.device_put(batch, self.batch_sharding)

  def put_eval_batches(self, batches: list[dict[str, np.ndarray]]):
    stacked = {k: np.stack([b[k] for b in batches]) for k in batches[0]}
    return jax.device_put(stacked, self.eval_sharding)

  def put_state(self, state):
    return jax.device_put(state, self.lane_sharding)
