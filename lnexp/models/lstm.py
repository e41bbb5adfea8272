"""Byte-level LSTM language model with the norms of the seed's RNN claim.

The input-to-hidden and hidden-to-hidden pre-activations are normalized
separately, and the cell state before the output tanh: layernorm / rmsnorm as
Ba et al. 2016 (eq. 20-22), batchnorm as Cooijmans et al. 2016 (per time step,
running statistics too). The time loop is one `nn.scan`; state resets to zero
at every document start, so packed rows hold independent documents.
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from lnexp.models import norms, probes
from lnexp.models.dense import Dense
from lnexp.models.model import ModelConfig, dense_init

f32 = jnp.float32


class LSTMCell(nn.Module):
  """One time step: (h, c), (x-gates, mask, reset, probe) -> (h, c), (h, diagnostics).

  With `probed`, h_t passes through `probes.grad_probe`, so the probe's
  gradient is ||dLoss/dh_t|| (through the output and every later step).
  """
  cfg: ModelConfig
  train: bool
  probed: bool = False

  @nn.compact
  def __call__(self, carry, xs):
    c, hidden = self.cfg, self.cfg.hidden_dim
    h_BxH, c_BxH = carry
    gates_x_Bx4H, mask_B, reset_B, probe_1 = xs
    keep = (1.0 - reset_B)[:, None]
    h_BxH, c_BxH = h_BxH * keep, c_BxH * keep
    gates_h_Bx4H = nn.Dense(4 * hidden, use_bias=False, kernel_init=dense_init(c, hidden),
                            name='hidden')(h_BxH)

    def norm(name, x_BxD):  # norms take [B, T, D]: one time step is T = 1
      return norms.make_norm(c.norm, c, name)(x_BxD[:, None], mask_B[:, None],
                                              self.train)[:, 0]

    gates = (norm('x_norm', gates_x_Bx4H) + norm('h_norm', gates_h_Bx4H)
             + self.param('bias', nn.initializers.zeros, (4 * hidden,), f32))
    i, f, o, g = jnp.split(gates, 4, axis=-1)
    c_BxH = nn.sigmoid(f + 1.0) * c_BxH + nn.sigmoid(i) * jnp.tanh(g)  # forget bias 1
    h_BxH = nn.sigmoid(o) * jnp.tanh(norm('c_norm', c_BxH))
    if self.probed:
      h_BxH = probes.grad_probe(h_BxH, probe_1[0])
    m = mask_B[:, None]
    count = jnp.maximum(mask_B.sum() * hidden, 1.0)
    mean = (h_BxH * m).sum() / count
    var = (jnp.square(h_BxH - mean) * m).sum() / count
    return (h_BxH, c_BxH), (h_BxH, {'hidden_var': var, 'hidden_rms': jnp.sqrt(
        (jnp.square(h_BxH) * m).sum() / count)})


class LSTMLM(nn.Module):
  """Token ids [B, T] -> next-token logits [B, T, V]; `model.num_layers` is unused
  (one LSTM layer), `model.hidden_dim` its width, `model.embed_dim` the input.
  `grad_probes_L` here has one probe per time step ([T]), not per layer."""
  cfg: ModelConfig

  @nn.compact
  def __call__(self, tokens_BxT, segment_ids_BxT, mask_BxT, train=False,
               grad_probes_L=None):
    c = self.cfg
    embed_VxE = self.param('token_embed', nn.initializers.truncated_normal(
        c.init_scale), (c.vocab_size, c.embed_dim), f32)
    x_BxTxE = embed_VxE[tokens_BxT]
    gates_x_BxTx4H = Dense(4 * c.hidden_dim, use_bias=False,
                           kernel_init=dense_init(c, c.embed_dim), name='input')(x_BxTxE)
    starts_BxT = jnp.concatenate([jnp.ones_like(segment_ids_BxT[:, :1]),
                                  segment_ids_BxT[:, 1:] != segment_ids_BxT[:, :-1]],
                                 axis=1).astype(f32)
    scan = nn.scan(LSTMCell, variable_broadcast='params', split_rngs={'params': False},
                   variable_axes={'batch_stats': 0, 'intermediates': 0},
                   in_axes=1, out_axes=0)
    b, t = tokens_BxT.shape
    zeros = jnp.zeros((b, c.hidden_dim), f32)
    # Probes [T] ride along the time axis (as [1, T], like the other inputs' [B, T]).
    probes_1xT = (jnp.zeros((t,), f32) if grad_probes_L is None else grad_probes_L)[None]
    _, (h_TxBxH, per_step) = scan(c, train, grad_probes_L is not None, name='cell')(
        (zeros, zeros), (gates_x_BxTx4H, mask_BxT.astype(f32), starts_BxT, probes_1xT))
    h_BxTxH = h_TxBxH.transpose(1, 0, 2)
    if self.is_mutable_collection('intermediates'):
      for name, value_T in per_step.items():
        self.sow('intermediates', f'time/{name}', value_T)
      for key, value in probes.norm_input_stats(gates_x_BxTx4H, mask_BxT).items():
        self.sow('intermediates', f'input_gates_{key}', value)
    return Dense(c.vocab_size, kernel_init=dense_init(c, c.hidden_dim, c.unembed_init),
                 name='unembed')(h_BxTxH).astype(f32)


def costs(cfg) -> dict:
  """Estimates from shapes (`Arch.costs`): one layer, float32 whatever model.dtype;
  parameters of the embedding, the gates' matmuls and bias, three norms, the output."""
  m, t = cfg.model, cfg.train
  h, e, v, tokens = m.hidden_dim, m.embed_dim, m.vocab_size, t.batch_size * t.seq_len
  return {'params': v * e + 4 * h * (e + h) + 22 * h + h * v + v,
          'activations': tokens * (16 * h + e),
          'flops': 6.0 * tokens * (4 * h * (e + h) + h * v)}
