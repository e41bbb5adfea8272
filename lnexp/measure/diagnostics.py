"""In-jit measurements of what the seed article claims, per lane and per depth.

Everything here runs inside the jitted diagnostic step (a separately compiled
step used every `diagnostics.every` steps; other steps never trace it):
- forward: residual-stream RMS after each depth, RMS of each sublayer output,
  the feature-averaged mean and variance of each norm's and sublayer's input, ALBERT's layer
  transition metrics (L2 distance and cosine similarity between a depth's
  input and output, Lan et al. 2019 fig. 1);
- backward: ||dLoss/d residual|| after each depth via an identity with a
  custom VJP (`lnexp.models.probes.grad_probe`, O(depth) memory instead of
  L x B x T x D probes),
  gradient norm per parameter group, and per layer for unshared blocks (Xiong
  et al. 2020 compare the last layer's FFN weight gradient across placements);
- attention: max logit and mean entropy per depth (Wortsman et al. 2023);
- output: max logit and mean log Z (what z-loss controls);
- optimizer: update RMS / parameter RMS per group;
- BatchNorm: (1/d)||mu_batch - mu_running|| and the same for the variance,
  per depth (Shen et al. 2020, PowerNorm);
- internal covariate shift, two definitions:
  * drift (`ics_drift`): on a fixed probe batch, the per-feature mean and
    variance of each norm's input (`*_norm_*`) and of each sublayer's input
    (`*_sub_*`: the norm output in pre-LN, the residual stream in post-LN or
    without a norm) at this diagnostic step vs the previous one; the host
    reports the RMS change per depth (`lnexp.train.loop`);
  * Santurkar et al. 2018 (`ics_santurkar`, `share=none` only, own cadence
    `diagnostics.ics_every`): ||G_i - G_i'|| where G_i is layer i's weight
    gradient and G_i' the same gradient after the layers before i (and the
    embeddings) took this step's update (`LaneFns.santurkar_ics`).
The forward statistics and the probe are computed inside the models, by
`lnexp.models.probes`; here are the parameter-level ones and the host's drift.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

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


def tree_norm(tree) -> jax.Array:
  leaves = jax.tree.leaves(tree)
  return jnp.sqrt(sum(jnp.sum(jnp.square(x.astype(f32))) for x in leaves)) if leaves \
      else jnp.zeros((), f32)


def tree_rms(tree) -> jax.Array:
  leaves = jax.tree.leaves(tree)
  size = sum(x.size for x in leaves)
  return tree_norm(tree) / jnp.sqrt(max(size, 1))


def group_metrics(grads, params, new_params) -> dict:
  """Grad norm and update/param RMS ratio per parameter group."""
  out = {}
  for name, g in param_groups(grads).items():
    p = param_groups(params)[name]
    update = jax.tree.map(lambda a, b: a - b, param_groups(new_params)[name], p)
    out[f'grad_norm/{name}'] = tree_norm(g)
    out[f'update_ratio/{name}'] = tree_rms(update) / jnp.maximum(tree_rms(p), 1e-30)
  return out


def layer_grad_norms(layers) -> dict:
  """Per-layer gradient norm [L] of each block submodule stacked along depth
  (`layers`: the grads at the arch's `layer_params`)."""
  return {f'layer_grad_norm/{sub}': jnp.sqrt(sum(
      jnp.square(x.astype(f32)).reshape(x.shape[0], -1).sum(1)
      for x in jax.tree.leaves(tree)))
          for sub, tree in layers.items()}


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
