"""What a model measures about itself as it runs (why: lnexp.measure.diagnostics):
gradient probes and the forward statistics a block sows into 'intermediates'.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

f32 = jnp.float32


@jax.custom_vjp
def grad_probe(x, probe):
  """Identity on x; the cotangent of `probe` is ||dLoss/dx|| (Frobenius)."""
  del probe
  return x


def _probe_fwd(x, probe):
  del probe
  return x, None


def _probe_bwd(_, g):
  return g, jnp.sqrt(jnp.sum(jnp.square(g.astype(f32))))


grad_probe.defvjp(_probe_fwd, _probe_bwd)


def masked_token_mean(v_BxT, mask_BxT):
  return (v_BxT * mask_BxT).sum() / jnp.maximum(mask_BxT.sum(), 1.0)


def rms(x_BxTxD, mask_BxT):
  """Root mean square over real tokens and features."""
  return jnp.sqrt(masked_token_mean(jnp.square(x_BxTxD.astype(f32)).mean(-1), mask_BxT))


def norm_input_stats(x_BxTxD, mask_BxT) -> dict:
  """Feature-averaged mean/variance of a norm's input, and per-feature moments."""
  x = x_BxTxD.astype(f32)
  m = mask_BxT[..., None]
  count = jnp.maximum(mask_BxT.sum(), 1.0)
  feat_mean_D = (x * m).sum((0, 1)) / count
  feat_var_D = (jnp.square(x - feat_mean_D) * m).sum((0, 1)) / count
  return {'in_mean': masked_token_mean(x.mean(-1), mask_BxT),
          'in_var': masked_token_mean(x.var(-1), mask_BxT),
          'feat_mean': feat_mean_D, 'feat_var': feat_var_D}


def transition(x_in_BxTxD, x_out_BxTxD, mask_BxT) -> dict:
  """ALBERT's layer-transition metrics: mean L2 distance and cosine similarity."""
  a, b = x_in_BxTxD.astype(f32), x_out_BxTxD.astype(f32)
  l2 = jnp.sqrt(jnp.square(b - a).sum(-1))
  cos = (a * b).sum(-1) / jnp.maximum(
      jnp.sqrt(jnp.square(a).sum(-1) * jnp.square(b).sum(-1)), 1e-30)
  return {'transition_l2': masked_token_mean(l2, mask_BxT),
          'transition_cos': masked_token_mean(cos, mask_BxT)}


def flatten_sown(tree: dict, prefix: str = '') -> dict:
  """Flax 'intermediates' {module: {name: (value,)}} -> {'module/name': value}."""
  out = {}
  for key, value in tree.items():
    name = f'{prefix}{key}'
    if isinstance(value, dict):
      out.update(flatten_sown(value, name + '/'))
    else:
      out[name] = value[0] if isinstance(value, tuple) else value
  return out
