"""Claim 4 ("prevents error accumulation across layers") by perturbation.

A small relative error is put into the residual stream after block `after`
and followed through the later blocks, on the clean and a perturbed forward
pass (`AlbertGPT(perturb=...)`), both in float32. Unlike the last/first
residual RMS ratio (~1 by construction in post-LN), it can fail for every
variant. Every quantity, exactly: docs/diagnostics.md.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from lnexp import config as config_lib
from lnexp.data import make_source
from lnexp.models.archs import ARCHS
from lnexp.models.model import ModelConfig
from lnexp.models.probes import masked_token_mean, rms
from lnexp.models.validate import validate

f32 = jnp.float32
EPS = 1e-3
NOISE_STREAM = 4


def token_norm(x_BxTxH):
  return jnp.sqrt(jnp.square(x_BxTxH.astype(f32)).sum(-1))


def relative_deviation(x_BxTxH, x_perturbed_BxTxH, mask_BxT):
  """Mean over real tokens of ||x' - x|| / ||x|| (per token, over features)."""
  ratio_BxT = token_norm(x_perturbed_BxTxH - x_BxTxH) / jnp.maximum(
      token_norm(x_BxTxH), 1e-30)
  return masked_token_mean(ratio_BxT, mask_BxT)


def _expm1_minus_x(c):
  """e^c - 1 - c without cancellation: its Taylor series where |c| < 1/2."""
  series = c * c * (1 / 2 + c * (1 / 6 + c * (1 / 24 + c * (1 / 120 + c * (
      1 / 720 + c * (1 / 5040 + c * (1 / 40320 + c / 362880)))))))
  return jnp.where(jnp.abs(c) < 0.5, series, jnp.expm1(c) - c)


def kl_from_logits(logits_p_BxTxV, logits_q_BxTxV):
  """Per-token KL(p || q) of softmax(logits_p) and softmax(logits_q), as
  log1p(E_p[e^c - 1 - c]) with c = z_q - z_p centred under p: only second- and
  higher-order terms, so a tiny KL keeps the relative precision that
  sum p log(p/q) loses in float32. Tokens with |c| >= 10 take that direct formula.
  """
  zp, zq = logits_p_BxTxV.astype(f32), logits_q_BxTxV.astype(f32)
  logp, logq = jax.nn.log_softmax(zp, -1), jax.nn.log_softmax(zq, -1)
  p = jnp.exp(logp)
  d = zq - zp
  c = d - (p * d).sum(-1, keepdims=True)
  small = jnp.abs(c).max(-1) < 10.0
  stable = jnp.log1p((p * _expm1_minus_x(jnp.clip(c, -10.0, 10.0))).sum(-1))
  direct = (p * (logp - logq)).sum(-1)
  return jnp.maximum(jnp.where(small, stable, direct), 0.0)


def relative_noise(x_BxTxH, direction_BxTxH, mask_BxT, eps):
  """eps * ||x_t|| * u_t / ||u_t|| at real tokens, 0 at padding."""
  u = direction_BxTxH.astype(f32)
  unit = u / jnp.maximum(token_norm(u), 1e-30)[..., None]
  return eps * (token_norm(x_BxTxH) * mask_BxT)[..., None] * unit


def _forward(model, variables, batch, train, perturb=None):
  """(logits, streams [L, B, T, H]); running statistics are never written back."""
  logits, state = model.apply(
      variables, batch['inputs'], batch['segment_ids'], batch['input_mask'], train,
      perturb=perturb, mutable=['residuals', 'batch_stats'])
  return logits, state['residuals']['stream'][0]


@functools.partial(jax.jit, static_argnames=('model_cfg', 'after', 'batch_stats'))
def response(model_cfg: ModelConfig, variables, batch, direction_BxTxH, eps=EPS,
             after: int = 1, batch_stats: bool = True) -> dict:
  """The perturbation metrics (docs/diagnostics.md) for a given noise direction.

  variables: {'params': ..., 'batch_stats': ...} of one model (no lane axis).
  Returns rel_dev_L [L] (entry l-1 is block l), amplification, kl, rms_ratio,
  loss (the clean pass's cross-entropy).
  """
  arch = ARCHS[model_cfg.arch]
  if not arch.per_depth:
    raise ValueError(f'perturbation needs a residual stream per depth (Arch.per_depth); '
                     f'model.arch={model_cfg.arch!r} has none')
  depth = model_cfg.num_layers
  if not 1 <= after <= depth:
    raise ValueError(f'after={after} must be a block in 1..{depth}')
  model = arch.model(dataclasses.replace(model_cfg, dtype='float32', attention='xla'))
  variables = {k: v for k, v in variables.items() if k in ('params', 'batch_stats')}
  mask = batch['input_mask'].astype(f32)
  logits, streams = _forward(model, variables, batch, batch_stats)
  delta = relative_noise(streams[after - 1], direction_BxTxH, mask, eps)
  scale_L = (jnp.arange(depth) == after - 1).astype(f32)
  logits_p, streams_p = _forward(model, variables, batch, batch_stats, (scale_L, delta))
  rel_dev_L = jax.vmap(relative_deviation, in_axes=(0, 0, None))(streams, streams_p, mask)

  logz = jax.nn.logsumexp(logits, -1)
  target = jnp.take_along_axis(logits, batch['targets'][..., None], -1)[..., 0]
  return {'rel_dev_L': rel_dev_L, 'amplification': rel_dev_L[-1] / eps,
          'kl': masked_token_mean(kl_from_logits(logits, logits_p), mask),
          'rms_ratio': rms(streams[-1], mask) / rms(streams[0], mask),
          'loss': masked_token_mean(logz - target, batch['loss_mask'])}


def measure(model_cfg: ModelConfig, variables, batch, seed: int = 0) -> dict:
  """`response` (eps = EPS after block 1) with u ~ N(0, I) per token drawn from
  `seed`; numpy values."""
  out = _measure(model_cfg, variables, batch, EPS, seed)
  return jax.tree.map(np.asarray, out)


@functools.partial(jax.jit, static_argnames=('model_cfg',))
def _measure(model_cfg, variables, batch, eps, seed):
  b, t = batch['inputs'].shape
  key = jax.random.fold_in(jax.random.key(seed), NOISE_STREAM)  # apart from the init's
  direction_BxTxH = jax.random.normal(key, (b, t, model_cfg.hidden_dim), f32)
  return response(model_cfg, variables, batch, direction_BxTxH, eps)


@functools.partial(jax.jit, static_argnames=('model_cfg',))
def _measure_at_init(model_cfg, batch, seed, eps):
  """Init as a training lane with this seed starts (LaneFns.init), then measure:
  one compiled program per structure, seeds and batches traced."""
  variables = ARCHS[model_cfg.arch].model(model_cfg).init(
      jax.random.key(seed), batch['inputs'][:1], batch['segment_ids'][:1],
      batch['input_mask'][:1], False)
  return _measure(model_cfg, variables, batch, eps, seed)


def at_init(variants: Mapping[str, Mapping], depths: Sequence[int] = (2, 4, 8, 16, 32),
            seeds: Sequence[int] = (0,), *, base=None):
  """Perturbation metrics of freshly initialised models over depth (a DataFrame).

  variants: {variant name: dotted overrides}, each applied over `base` (default:
  base_config()), then `model.num_layers` = depth. A seed sets the init
  (train.seed), the batch (data.seed; eval batch 0) and the noise direction.
  """
  import pandas as pd  # only here: the rest of the module is jax-only

  base = config_lib.base_config() if base is None else base
  rows = []
  for name, overrides in variants.items():
    for depth in depths:
      for seed in seeds:
        cfg = config_lib.apply_overrides(base, {
            **overrides, 'model.num_layers': depth, 'train.seed': seed,
            'data.seed': seed})
        validate(cfg)
        source = make_source(cfg)
        cfg.model.vocab_size = source.vocab_size
        model_cfg = ModelConfig.from_config(cfg)
        batch = {k: jnp.asarray(v) for k, v in source.eval_batch(0).items()}
        out = jax.tree.map(np.asarray, _measure_at_init(model_cfg, batch, seed, EPS))
        rows.append({'variant': name, 'depth': depth, 'seed': seed, 'eps': EPS,
                     'amplification': float(out['amplification']),
                     'kl': float(out['kl']), 'rel_dev_last': float(out['rel_dev_L'][-1]),
                     'rms_ratio': float(out['rms_ratio']), 'loss': float(out['loss'])})
  return pd.DataFrame(rows)
