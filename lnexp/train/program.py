"""One group's compiled program: lanes vmapped (or mapped), jitted, sharded.

Lanes go on a 'lane' mesh axis (padded with copies of the last lane), the
batch on a 'data' axis.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from lnexp.models.model import ModelConfig
from lnexp.runtime import plan as plan_lib
from lnexp.train.optimizer import OptimConfig
from lnexp.train.steps import LaneFns


def put(x: np.ndarray, sharding: NamedSharding) -> jax.Array:
  """Host array (the same on every process) -> global array, each host its shards."""
  return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def fetch(tree):
  """Device -> host NumPy, gathering lanes held by other processes (multi-host)."""
  if jax.process_count() == 1:
    return jax.device_get(tree)
  from jax.experimental import multihost_utils
  return multihost_utils.process_allgather(tree, tiled=True)


def over_lanes(fn, lane_args: int, mode: str, mesh: Mesh | None = None):
  """Lifts fn over the lane axis of its first `lane_args` arguments.

  'vmap' batches lanes (accelerators); 'map' runs them one after another in
  one program (CPU), each host device over its own lanes (`shard_map`).
  """
  def lifted(*args):
    lane, shared = args[:lane_args], args[lane_args:]
    if mode == 'vmap':
      return jax.vmap(fn, in_axes=(0,) * lane_args + (None,) * len(shared))(*args)
    if jax.tree.leaves(lane)[0].shape[0] == 1:  # no loop: its slices and copies
      out = fn(*jax.tree.map(lambda x: x[0], lane), *shared)  # cost 5% of a step
      return jax.tree.map(lambda x: x[None], out)
    return jax.lax.map(lambda a: fn(*a, *shared), lane)
  if mode == 'map' and mesh is not None and mesh.shape['lane'] > 1:
    return lambda *args: jax.shard_map(
        lifted, mesh=mesh, axis_names={'lane'}, check_vma=False,
        in_specs=(P('lane'),) * lane_args + (P(),) * (len(args) - lane_args),
        out_specs=P('lane'))(*args)
  return lifted


def lane_mode(mode: str) -> str:
  """'auto': map on CPU, vmap on accelerators."""
  if mode != 'auto':
    return mode
  return 'map' if jax.default_backend() == 'cpu' else 'vmap'


# Compiled structures hold hundreds of memory maps each: 32 met Linux's
# vm.max_map_count (docs/performance.md). Groups sharing programs run one after
# another (plan.make_groups), so 4 suffice.
@functools.lru_cache(maxsize=4)
def _compiled(fns: LaneFns, lanes: NamedSharding, mode: str, fast_compile: bool):
  """Jitted functions over lanes, shared by groups of identical structure.

  Init (run once per group) maps over lanes and, on CPU, compiles unoptimised
  with the same values; `fast_compile` does so for every program. Each compiles
  on first use. Measurements: docs/performance.md.
  """
  cpu = jax.default_backend() == 'cpu'
  unoptimised = {'xla_backend_optimization_level': 0,
                 'xla_cpu_use_fusion_emitters': False} if cpu else None
  optimised = {'xla_cpu_prefer_vector_width': 512} if cpu else None
  options = unoptimised if fast_compile else optimised
  init = jax.jit(over_lanes(fns.init, 1, 'map', lanes.mesh), out_shardings=lanes,
                 compiler_options=unoptimised)

  def jit(fn, lane_args, **kwargs):
    return jax.jit(over_lanes(fn, lane_args, mode, lanes.mesh), compiler_options=options,
                   **kwargs)

  def step(diagnose):
    return jit(functools.partial(fns.train_step, diagnose=diagnose), 2, donate_argnums=0,
               out_shardings=(lanes, lanes))
  eval_loss = jit(fns.eval_loss, 1, out_shardings=lanes)
  eval_batch_stats = jit(functools.partial(fns.eval_loss, batch_statistics=True), 1,
                         out_shardings=lanes)
  eval_accuracy = jit(fns.eval_accuracy, 1, out_shardings=lanes)
  probe_stats = jit(fns.probe_stats, 1, out_shardings=lanes)
  ics = jit(fns.santurkar_ics, 2, out_shardings=lanes)
  smoothness = jit(fns.smoothness, 2, out_shardings=lanes)
  token_losses = jit(fns.eval_token_losses, 1, out_shardings=lanes)
  return (init, step(False), step(True), eval_loss, eval_batch_stats, eval_accuracy,
          probe_stats, ics, smoothness, token_losses)


def release() -> None:
  """Drops every compiled program (between experiments of one process)."""
  _compiled.cache_clear()
  jax.clear_caches()


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

  def __init__(self, group: plan_lib.Group, cfg):
    devices = jax.devices()
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
    self.lane_mode = lane_mode(cfg.train.lane_mode)
    (self.init, self.train_step, self.diag_step, self.eval_loss,
     self.eval_loss_batch_stats, self.eval_accuracy, self.probe_stats,
     self.santurkar_ics, self.smoothness, self.eval_token_losses) = _compiled(
         self.fns, self.lane_sharding, self.lane_mode, cfg.train.fast_compile)

  def _lane_arrays(self, hp: dict[str, list]) -> dict[str, jax.Array]:
    pad = self.padded_lanes - self.num_lanes
    out = {}
    for name, values in hp.items():
      dtype = jnp.int32 if name == 'seed' else jnp.float32
      out[name] = put(np.asarray(values + values[-1:] * pad, dtype), self.lane_sharding)
    return out

  def put_batch(self, batch: dict[str, np.ndarray]) -> dict[str, jax.Array]:
    return jax.tree.map(lambda x: put(x, self.batch_sharding), batch)

  def put_eval_batches(self, batches: list[dict[str, np.ndarray]]):
    stacked = {k: np.stack([b[k] for b in batches]) for k in batches[0]}
    return jax.tree.map(lambda x: put(x, self.eval_sharding), stacked)
