"""A small residual CNN image classifier with every norm of the seed's CNN claim.

post: ResNet v1 (He et al. 2016); pre: ResNet v2, pre-activation (He et al.
2016b). Norms on [B, H, W, C] (each registry entry's `images`): batchnorm per
channel over batch, height and width; layernorm (GroupNorm with one group),
groupnorm and rmsnorm over each image; dyt elementwise. Logits come as [B, 1,
classes] so the language-model loss, eval and lanes apply unchanged.
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from lnexp.errors import ConfigError
from lnexp.models import norms, probes
from lnexp.models.model import ModelConfig, dense_init

f32 = jnp.float32


def post_block(x, conv, norm, train):
  """ResNet v1: relu(x + N2(conv2(relu(N1(conv1(x))))))."""
  y = nn.relu(norm('norm1')(conv('conv1')(x), train))
  return nn.relu(x + norm('norm2')(conv('conv2')(y), train))


def pre_block(x, conv, norm, train):
  """ResNet v2 (pre-activation): x + conv2(relu(N2(conv1(relu(N1(x))))))."""
  y = conv('conv1')(nn.relu(norm('norm1')(x, train)))
  return x + conv('conv2')(nn.relu(norm('norm2')(y, train)))


BLOCKS = {'post': post_block, 'pre': pre_block}  # the placements a CNN has


class ResBlock(nn.Module):
  cfg: ModelConfig

  @nn.compact
  def __call__(self, x_BxHxWxC, train):
    c = self.cfg
    conv = lambda name: nn.Conv(c.hidden_dim, (3, 3), use_bias=c.use_bias, dtype=c.dtype,  # noqa: E731
                                kernel_init=conv_init(c, c.hidden_dim), name=name)
    norm = lambda name: norms.make_image_norm(c.norm, c, name)  # noqa: E731
    return BLOCKS[c.placement](x_BxHxWxC, conv, norm, train)


def conv_init(cfg: ModelConfig, channels_in: int):
  """Truncated normal with std init_scale / sqrt(3 * 3 * channels_in)."""
  return nn.initializers.truncated_normal(cfg.init_scale * (9 * channels_in) ** -0.5)


class CNN(nn.Module):
  """Images [B, H, W, C] -> class logits [B, 1, classes] (classes = vocab_size).

  `model.num_layers` residual blocks of `model.hidden_dim` channels after a
  3x3 stem, global average pooling, one dense layer. With `grad_probes_L`
  (zeros [L]) their gradient is ||dLoss/dx|| after each block.
  """
  cfg: ModelConfig

  @nn.compact
  def __call__(self, images_BxHxWxC, segment_ids=None, mask=None, train=False,
               grad_probes_L=None):
    c = self.cfg
    x = nn.Conv(c.hidden_dim, (3, 3), dtype=c.dtype, name='stem',
                kernel_init=conv_init(c, images_BxHxWxC.shape[-1]))(images_BxHxWxC)
    rms_L = []
    for depth in range(c.num_layers):
      x = ResBlock(c, name=f'block{depth}')(x, train)
      if grad_probes_L is not None:
        x = probes.grad_probe(x, grad_probes_L[depth])
      rms_L.append(jnp.sqrt(jnp.square(x.astype(f32)).mean()))
    if self.is_mutable_collection('intermediates'):
      self.sow('intermediates', 'depth/residual_rms', jnp.stack(rms_L))
    pooled_BxC = x.astype(f32).mean((1, 2))
    return nn.Dense(c.vocab_size, kernel_init=dense_init(c, c.hidden_dim, c.unembed_init),
                    name='head')(pooled_BxC)[:, None, :].astype(f32)


def check(cfg) -> None:
  m = cfg.model
  if m.norm == 'groupnorm' and m.hidden_dim % m.groups:
    raise ConfigError(f'model.hidden_dim={m.hidden_dim} is not divisible by '
                      f'model.groups={m.groups}')


PIXELS = 64  # the estimates assume 8x8 images (digits)


def costs(cfg) -> dict:
  """Estimates from shapes (`Arch.costs`): the 3x3 stem and two convolutions per
  block; a channel map kept per convolution, norm and activation."""
  m, b = cfg.model, cfg.train.batch_size
  h, v, layers = m.hidden_dim, m.vocab_size, m.num_layers
  return {'params': 9 * 3 * h + 9 * h * h * 2 * layers + 6 * h * layers + h * v + v,
          'activations': b * PIXELS * h * 6 * layers,
          'flops': 6.0 * b * PIXELS * 9 * h * (2 * layers * h + 1)}
