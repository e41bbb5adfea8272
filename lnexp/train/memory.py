"""A group's memory from its shapes, checked before a run writes anything.

An estimate that errs low, to refuse what cannot fit before the machine swaps
(what it counts: docs/data-and-workdir.md).
"""
from __future__ import annotations

import math
import os

from lnexp.errors import ConfigError
from lnexp.models.archs import ARCHS

GIB = 2**30
LOGIT_COPIES = 3      # logits, log-softmax, their gradient (float32)
STATE_COPIES = 4      # params, grads, Adam mu and nu (float32)


def param_count(cfg) -> int:
  """Trainable parameters of one lane (biases and norm scales included)."""
  return ARCHS[cfg.model.arch].costs(cfg)['params']


def activation_bytes(cfg) -> int:
  """What one lane's training step holds for its backward pass."""
  m, t, arch = cfg.model, cfg.train, ARCHS[cfg.model.arch]
  width = 2 if m.dtype == 'bfloat16' else 4
  rows = t.batch_size * (1 if arch.images else t.seq_len)  # classifiers: one per example
  return arch.costs(cfg)['activations'] * width + LOGIT_COPIES * rows * m.vocab_size * 4


def group_bytes(cfg, lanes: int, devices: int, lane_mode: str) -> tuple[int, int]:
  """(bytes per device, devices used) of a group of `lanes` lanes on `devices`."""
  from lnexp.train.program import mesh_shape
  lane_devices, data_devices = mesh_shape(devices, lanes, cfg.train.batch_size)
  per_device_lanes = math.ceil(lanes / lane_devices)
  active = per_device_lanes if lane_mode == 'vmap' else 1
  return (per_device_lanes * STATE_COPIES * 4 * param_count(cfg)
          + active * activation_bytes(cfg) // data_devices), lane_devices * data_devices


def host_available() -> int | None:
  """Bytes of memory the host can still give (MemAvailable), if known."""
  try:
    with open('/proc/meminfo') as f:
      for line in f:
        if line.startswith('MemAvailable:'):
          return int(line.split()[1]) * 1024
  except (OSError, ValueError, IndexError):
    pass
  try:
    return os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
  except (ValueError, OSError, AttributeError):
    return None


def device_limit(devices) -> int | None:
  """The smallest per-device memory limit of accelerators, if they report one."""
  limits = []
  for d in devices:
    try:
      stats = d.memory_stats() or {}
    except Exception:  # some backends do not implement it
      stats = {}
    if 'bytes_limit' in stats:
      limits.append(int(stats['bytes_limit']))
  return min(limits) if limits else None


def _need(cfg, lanes: int, devices, lane_mode: str) -> int:
  """Bytes to compare with what is available: per accelerator device, or in all
  for CPU host devices (they share the host's memory)."""
  per_device, used = group_bytes(cfg, lanes, len(devices), lane_mode)
  return per_device * used if devices[0].platform == 'cpu' else per_device


def check(group_id: str, cfg, lanes: int, devices, lane_mode: str) -> int:
  """Estimated bytes of the group; ConfigError if they cannot fit."""
  need = _need(cfg, lanes, devices, lane_mode)
  if devices[0].platform == 'cpu':
    have, where = host_available(), 'in host memory'
  else:
    have, where = device_limit(devices), f'per {devices[0].platform} device'
  if have is None or need <= have:
    return need
  fits = [k for k in range(lanes - 1, 0, -1) if _need(cfg, k, devices, lane_mode) <= have]
  advice = (f'--config.train.max_lanes_per_program={fits[0]} or a smaller '
            '--config.train.batch_size' if fits else
            'a smaller --config.train.batch_size (or train.seq_len, model size)')
  raise ConfigError(
      f'group {group_id} ({lanes} lanes, batch {cfg.train.batch_size} x '
      f'{cfg.train.seq_len}) needs ~{need / GIB:.3g} GiB {where} but '
      f'{have / GIB:.3g} GiB is available; use {advice}')
