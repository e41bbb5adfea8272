"""In-jit diagnostics of the parameters, per lane: gradient norm and update/param
RMS per parameter group, per-layer gradient norms and update/param ratios; and
the host's ICS drift.

The forward statistics and gradient probes are computed inside the models
(`lnexp.models.probes`). Every metric, what it measures and why: docs/diagnostics.md.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

f32 = jnp.float32


def param_groups(tree: dict) -> dict:
  """{group: subtree}: top-level params, and each block submodule on its own."""
  groups = {}
  for key, value in tree.items():
    if key == 'blocks':
      for part in ('shared', 'layers'):
        for sub, subtree in value[part].items():
          groups[f'block.{sub}'] = {**groups.get(f'block.{sub}', {}), part: subtree}
    else:
      groups[key] = value
  return groups


def tree_rms(tree) -> jax.Array:
  size = sum(x.size for x in jax.tree.leaves(tree))
  return optax.tree.norm(tree) / jnp.sqrt(max(size, 1))


def group_metrics(grads, params, new_params) -> dict:
  """Grad norm and update/param RMS ratio per parameter group."""
  out, params, new_params = {}, param_groups(params), param_groups(new_params)
  for name, g in param_groups(grads).items():
    update = jax.tree.map(lambda a, b: a - b, new_params[name], params[name])
    out[f'grad_norm/{name}'] = optax.tree.norm(g)
    out[f'update_ratio/{name}'] = tree_rms(update) / jnp.maximum(tree_rms(params[name]), 1e-30)
  return out


def _square_sum_L(tree) -> jax.Array:
  """Sum of squares per layer [L] of a tree stacked along depth."""
  return sum(jnp.square(x.astype(f32)).reshape(x.shape[0], -1).sum(1)
             for x in jax.tree.leaves(tree))


def layer_grad_norms(layers) -> dict:
  """Per-layer gradient norm [L] of each block submodule stacked along depth
  (`layers`: the grads at the arch's `layer_params`)."""
  return {f'layer_grad_norm/{sub}': jnp.sqrt(_square_sum_L(tree))
          for sub, tree in layers.items()}


def layer_update_ratios(params_L, new_params_L) -> dict:
  """Per-layer update RMS / parameter RMS [L] of each block submodule stacked
  along depth (`share=none`): how hard one step pushes each layer (LARS, You et
  al. 2017, scale each layer's step by this ratio's inverse)."""
  def rms_L(tree):
    size = max(sum(x[0].size for x in jax.tree.leaves(tree)), 1)
    return jnp.sqrt(_square_sum_L(tree) / size)
  out = {}
  for sub, tree in params_L.items():
    update = jax.tree.map(lambda a, b: a - b, new_params_L[sub], tree)
    out[f'layer_update_ratio/{sub}'] = rms_L(update) / jnp.maximum(rms_L(tree), 1e-30)
  return out


def drift(prev: dict, cur: dict) -> dict:
  """Host side: RMS change of per-feature norm-input moments per depth (NaN for
  a diverged lane's non-finite moments, without a warning: divergence is data)."""
  import numpy as np
  out = {}
  for key in cur:
    if key.endswith(('feat_mean', 'feat_var')) and key in prev:
      name = 'ics_drift/' + key.replace('_feat_', '_')  # e.g. .../attn_norm_mean
      with np.errstate(invalid='ignore', over='ignore'):
        out[name] = np.sqrt(np.mean(np.square(cur[key] - prev[key]), axis=-1))
  return out
