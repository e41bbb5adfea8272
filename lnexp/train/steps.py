"""Pure per-lane functions: init, train step, eval; lifted over lanes by `Program`.

A lane is one sweep point: a state dict, its per-lane hyperparameters in `hp`
(traced scalars). A lane whose loss goes non-finite or past
`train.diverge_factor` x its initial loss is frozen, marked diverged.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from lnexp.measure import diagnostics, smoothness
from lnexp.models.archs import ARCHS
from lnexp.models.model import ModelConfig
from lnexp.models.probes import flatten_sown, masked_token_mean
from lnexp.models.validate import LANE_KEYS
from lnexp.train import optimizer

DIVERGED_NONFINITE, DIVERGED_EXPLODED = 1, 2
# `LaneFns.smoothness`: steps along the gradient of these multiples of the peak LR (RMS).
SMOOTHNESS_STEPS = (0.5, 1.0, 2.0, 4.0)


def token_losses(logits_BxTxV, targets_BxT):
  """Per-token cross-entropy and log-partition log Z (float32)."""
  logz_BxT = jax.nn.logsumexp(logits_BxTxV, axis=-1)
  target_logit_BxT = jnp.take_along_axis(logits_BxTxV, targets_BxT[..., None], -1)[..., 0]
  return logz_BxT - target_logit_BxT, logz_BxT


@dataclasses.dataclass(frozen=True)
class LaneFns:
  """Single-lane pure functions for one group's structure."""
  model_cfg: ModelConfig
  optim_cfg: Any
  total_steps: int
  diverge_factor: float

  @property
  def model(self) -> nn.Module:
    """The `model.arch` module; every one maps a batch's inputs to [B, T, V] logits."""
    return ARCHS[self.model_cfg.arch].model(self.model_cfg)

  def init(self, hp, batch):
    """Fresh lane state from the lane's seed and per-lane model init knobs."""
    cfg = dataclasses.replace(self.model_cfg, **{
        name: hp[name] for key, name in LANE_KEYS.items() if key.startswith('model.')})
    variables = ARCHS[cfg.arch].model(cfg).init(
        jax.random.key(hp['seed']), batch['inputs'][:1], batch['segment_ids'][:1],
        batch['input_mask'][:1], False)
    params = variables['params']
    return {'params': params, 'batch_stats': variables.get('batch_stats', {}),
            'opt_state': optimizer.direction(self.optim_cfg).init(params),
            'step': jnp.zeros((), jnp.int32),
            'diverged_step': jnp.full((), -1, jnp.int32),
            'diverged_reason': jnp.zeros((), jnp.int32),
            'init_loss': jnp.zeros((), jnp.float32)}

  def loss(self, params, batch_stats, hp, batch, train: bool, probes=None,
           collect: bool = False):
    """(loss incl. z-loss, (cross-entropy, new batch stats, diagnostics))."""
    variables = {'params': params, 'batch_stats': batch_stats}
    logits, new_vars = self.model.apply(
        variables, batch['inputs'], batch['segment_ids'], batch['input_mask'], train,
        grad_probes_L=probes,
        mutable=['batch_stats'] + (['intermediates'] if collect else []))
    ce_BxT, logz_BxT = token_losses(logits, batch['targets'])
    mask = batch['loss_mask']
    ce = masked_token_mean(ce_BxT, mask)
    z_loss = masked_token_mean(jnp.square(logz_BxT), mask)
    total = ce + hp['z_loss'] * z_loss
    diag = {}
    if collect:
      diag = flatten_sown(new_vars['intermediates'])
      diag['output_logit_max'] = logits.max()
      diag['output_log_z'] = masked_token_mean(logz_BxT, mask)
    return total, (ce, new_vars.get('batch_stats', batch_stats), diag)

  def train_step(self, state, hp, batch, diagnose: bool = False):
    """One update; with `diagnose`, also every in-step diagnostic."""
    c, arch = self.model_cfg, ARCHS[self.model_cfg.arch]
    size = {'depth': c.num_layers, 'time': c.max_len}[arch.probes]
    probes = jnp.zeros((size,), jnp.float32) if diagnose else None
    grad_fn = jax.value_and_grad(self.loss, argnums=(0, 5) if diagnose else 0,
                                 has_aux=True)
    (_, (ce, new_stats, diag)), grads = grad_fn(
        state['params'], state['batch_stats'], hp, batch, True, probes, diagnose)
    if diagnose:
      grads, diag[f'{arch.probes}/grad_flow'] = grads
    grad_norm = optax.tree.norm(grads)
    grads = optimizer.clip_by_global_norm(grads, grad_norm, hp['clip_norm'])
    direction, opt_state = optimizer.direction(self.optim_cfg).update(
        grads, state['opt_state'], state['params'])
    params, lr = optimizer.apply_update(state['params'], direction, state['step'], hp,
                                        self.optim_cfg, self.total_steps)
    if diagnose:
      diag.update(diagnostics.group_metrics(grads, state['params'], params))
      if arch.layer_params and c.share == 'none':
        diag.update(diagnostics.layer_grad_norms(_at(grads, arch.layer_params)))
        diag.update(diagnostics.layer_update_ratios(_at(state['params'], arch.layer_params),
                                                    _at(params, arch.layer_params)))
    finite = jnp.isfinite(ce) & jnp.isfinite(grad_norm)
    exploded = ce > self.diverge_factor * state['init_loss']
    alive = state['diverged_step'] < 0
    ok = alive & finite & ~exploded
    new = {'params': params, 'batch_stats': new_stats, 'opt_state': opt_state}
    kept = jax.tree.map(lambda n, o: jnp.where(ok, n, o), new,
                        {k: state[k] for k in new})
    died = alive & ~ok
    reason = jnp.where(finite, DIVERGED_EXPLODED, DIVERGED_NONFINITE)
    state = {**state, **kept, 'step': state['step'] + 1,
             'diverged_step': jnp.where(died, state['step'], state['diverged_step']),
             'diverged_reason': jnp.where(died, reason, state['diverged_reason'])}
    return state, {'train_loss': ce, 'grad_norm': grad_norm, 'lr': lr,
                   'diverged': state['diverged_step'] >= 0, **diag}

  def santurkar_ics(self, state, hp, batch):
    """Santurkar et al. 2018 ICS per layer (`share=none`): ||G_i - G_i'|| and
    relative to ||G_i||; G_i' after the input params and layers < i took this step."""
    def grads_of(params):
      return jax.grad(lambda p: self.loss(p, state['batch_stats'], hp, batch, True)[0])(
          params)
    arch, params = ARCHS[self.model_cfg.arch], state['params']
    g = grads_of(params)
    clipped = optimizer.clip_by_global_norm(g, optax.tree.norm(g), hp['clip_norm'])
    direction, _ = optimizer.direction(self.optim_cfg).update(
        clipped, state['opt_state'], params)
    updated, _ = optimizer.apply_update(params, direction, state['step'], hp,
                                        self.optim_cfg, self.total_steps)
    depth, path = self.model_cfg.num_layers, arch.layer_params
    g_L = _at(g, path)

    def for_layer(i):
      before_L = jnp.arange(depth) < i
      layers = jax.tree.map(
          lambda new, old: jnp.where(before_L.reshape((-1,) + (1,) * (old.ndim - 1)),
                                     new, old), _at(updated, path), _at(params, path))
      mixed = {k: updated[k] if k in arch.input_params else params[k] for k in params}
      g_mixed_L = _at(grads_of(_put(mixed, path, layers)), path)
      diff = jax.tree.map(lambda a, b: (a - b)[i], g_mixed_L, g_L)
      norm = optax.tree.norm(jax.tree.map(lambda a: a[i], g_L))
      return optax.tree.norm(diff), norm

    diff_L, norm_L = jax.lax.map(for_layer, jnp.arange(depth))
    return {'ics_santurkar': diff_L, 'ics_santurkar_rel': diff_L / jnp.maximum(norm_L, 1e-30)}

  def smoothness(self, state, hp, batch):
    """Santurkar et al. 2018's smoothness along this step's gradient, before the
    step (lnexp.measure.smoothness)."""
    loss_fn = smoothness.lane_loss_fn(self, state['batch_stats'], batch, hp['z_loss'])
    out = smoothness.along_gradient(loss_fn, state['params'],
                                    hp['lr'] * jnp.asarray(SMOOTHNESS_STEPS), rms_steps=True)
    return {f'smoothness/{k}': out[k] for k in ('beta', 'loss_range', 'grad_norm')}

  def probe_stats(self, state, batch):
    """Norm-input moments per depth on a fixed probe batch (for ICS drift)."""
    _, (_, _, diag) = self.loss(state['params'], state['batch_stats'],
                                {'z_loss': 0.0}, batch, False, None, True)
    return {k: v for k, v in diag.items() if k.endswith(('feat_mean', 'feat_var'))}

  def eval_accuracy(self, state, batches):
    """Fraction of real targets whose logit is the largest (classification)."""
    return self._target_mean(state, batches, lambda z, y: z.argmax(-1) == y)

  def eval_loss(self, state, batches, batch_statistics: bool = False):
    """Mean loss over real tokens of stacked eval batches [NB, B, T];
    `batch_statistics`: BatchNorm uses each batch's own statistics (train mode)."""
    return self._target_mean(state, batches, lambda z, y: token_losses(z, y)[0],
                             batch_statistics)

  def eval_token_losses(self, state, batches):
    """Per-token eval loss [NB, B, T] of stacked eval batches (running statistics),
    for losses by position (lnexp.measure.positions); PAD targets included."""
    def one(_, batch):
      return None, token_losses(self._logits(state, batch, False), batch['targets'])[0]
    return jax.lax.scan(one, None, batches)[1]

  def _target_mean(self, state, batches, score, train: bool = False):
    """Mean over real targets of score(logits, targets) [B, T] on batches [NB, B, T]."""
    def one(carry, batch):
      mask = batch['loss_mask']
      scored = score(self._logits(state, batch, train), batch['targets']) * mask
      return (carry[0] + scored.sum(), carry[1] + mask.sum()), None
    (total, count), _ = jax.lax.scan(one, (0.0, 0.0), batches)
    return total / jnp.maximum(count, 1.0)

  def _logits(self, state, batch, train: bool):
    """The model's logits; batch statistics are computed in train mode, not kept."""
    variables = {'params': state['params'], 'batch_stats': state['batch_stats']}
    return self.model.apply(variables, batch['inputs'], batch['segment_ids'],
                            batch['input_mask'], train, mutable=['batch_stats'])[0]


def _at(tree: dict, path: tuple[str, ...]):
  """The subtree at `path` of nested dicts."""
  for key in path:
    tree = tree[key]
  return tree


def _put(tree: dict, path: tuple[str, ...], value) -> dict:
  """A copy of nested dicts `tree` with the subtree at `path` replaced by `value`."""
  return {**tree, path[0]: _put(tree[path[0]], path[1:], value)} if path else value
