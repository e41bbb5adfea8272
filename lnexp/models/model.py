"""AlbertGPT: a decoder-only causal LM with ALBERT-style cross-layer sharing.

The transformer's variants (docs/variants.md) live here and in the registries
it reads: norm (`lnexp.models.norms`), placement (`lnexp.models.placements`,
which may change the model beyond the block: HybridNorm's q/k/v norm, Admin's
profiled omegas, nGPT), qk_norm (Dehghani et al. 2023; Wortsman et al. 2023),
share (ALBERT, Lan et al. 2019: shared parameters closed over, unshared ones
stacked on a leading depth axis, the depth loop one `lax.scan`), ALBERT's
factorized embedding V -> E -> H, and per-depth BatchNorm statistics.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from lnexp.errors import ConfigError
from lnexp.models import ngpt, norms, probes
from lnexp.models.dense import Dense, matmul_tokens
from lnexp.models.placements import PLACEMENTS, Site, stages

f32 = jnp.float32


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """The `model.*` config keys (defaults and docs: lnexp.config.base_config),
  plus the vocabulary (from the data source) and the maximum length."""
  vocab_size: int
  max_len: int
  arch: str
  norm: str
  placement: str
  share: str
  num_layers: int
  hidden_dim: int
  embed_dim: int
  num_heads: int
  mlp_dim: int
  qk_norm: bool
  pos: str
  use_bias: bool
  init_scale: Any       # float, or a per-lane traced scalar at init
  embed_scale: float
  unembed_init: float
  tie_embeddings: bool
  norm_eps: float
  bn_momentum: float
  bn_axes: str
  bn_share_stats: bool
  dyt_alpha_init: Any   # float, or a per-lane traced scalar at init
  derf_alpha_init: float
  mixln_post_fraction: float
  groups: int
  dtype: str
  attention: str
  scan_unroll: int
  branch_init: str

  @classmethod
  def from_config(cls, cfg) -> ModelConfig:
    """From a validated config (ConfigError where the backend or data lacks)."""
    if cfg.model.attention == 'cudnn' and jax.default_backend() != 'gpu':
      raise ConfigError('model.attention=cudnn needs a GPU; this backend is '
                        f'{jax.default_backend()} (use model.attention=xla)')
    if cfg.model.vocab_size <= 0:
      raise ConfigError('model.vocab_size is not set (it comes from the data source)')
    fields = {f.name for f in dataclasses.fields(cls)} - {'vocab_size', 'max_len'}
    return cls(vocab_size=cfg.model.vocab_size, max_len=cfg.train.seq_len,
               **{k: cfg.model[k] for k in fields})

  @property
  def has_running_stats(self) -> bool:
    return norms.NORMS[self.norm].running_stats


def dense_init(cfg: ModelConfig, fan_in: int, gain: float = 1.0):
  """Truncated normal with std gain * init_scale / sqrt(fan_in)."""
  return nn.initializers.truncated_normal(gain * cfg.init_scale * fan_in ** -0.5)


def branch_gains(cfg: ModelConfig) -> tuple[float, float]:
  """Init gains of a residual branch's (input, output) weights: the placement's
  (DeepNorm's beta on both) times `model.branch_init` on the output projection
  (gpt2: 1/sqrt(2L), Radford et al. 2019)."""
  placement = PLACEMENTS[cfg.placement].branch_init(cfg.num_layers)
  fair = (2 * cfg.num_layers) ** -0.5 if cfg.branch_init == 'gpt2' else 1.0
  return placement, placement * fair


def rope(x_BxTxNxK):
  """Rotary position embedding (Su et al. 2021), rotate-half form."""
  t, k = x_BxTxNxK.shape[1], x_BxTxNxK.shape[-1]
  freq = 10000.0 ** (-jnp.arange(0, k, 2, dtype=f32) / k)
  angle_TxK2 = jnp.arange(t, dtype=f32)[:, None] * freq[None]
  sin, cos = jnp.sin(angle_TxK2)[:, None], jnp.cos(angle_TxK2)[:, None]
  x1, x2 = jnp.split(x_BxTxNxK.astype(f32), 2, axis=-1)
  out = jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
  return out.astype(x_BxTxNxK.dtype)


def attention_mask(segment_ids_BxT):
  """[B, 1, T, S] True where position t may attend to s: causal, same document."""
  t = segment_ids_BxT.shape[1]
  causal_TxS = jnp.tril(jnp.ones((t, t), bool))
  same_doc_BxTxS = segment_ids_BxT[:, :, None] == segment_ids_BxT[:, None, :]
  return (causal_TxS & same_doc_BxTxS)[:, None]


# Causal query blocks: at least QUERY_BLOCK_ROWS rows, MIN to MAX blocks.
QUERY_BLOCK_ROWS, MIN_QUERY_BLOCKS, MAX_QUERY_BLOCKS = 32, 4, 8


def query_blocks(t: int) -> list[tuple[int, int]]:
  """(start, end) of each query block, whose queries attend to keys before `end`
  only, so masked scores above the diagonal blocks are never computed (as
  FlashAttention skips masked tiles, Dao et al. 2022). Short sequences stay
  whole, as does attention inside a depth loop (compile time: docs/performance.md)."""
  blocks = min(MAX_QUERY_BLOCKS, t // QUERY_BLOCK_ROWS)
  if blocks < MIN_QUERY_BLOCKS:
    return [(0, t)]
  rows = -(-t // blocks)
  return [(start, min(start + rows, t)) for start in range(0, t, rows)]


class Attention(nn.Module):
  """Causal multi-head self-attention, heads-major layout (fastest on XLA CPU),
  scores per causal query block (`query_blocks`) when `blocked`. attention=cudnn:
  cuDNN's fused flash attention, but on diagnostic steps (which read the scores).
  """
  cfg: ModelConfig
  blocked: bool = True

  @nn.compact
  def __call__(self, x_BxTxH, allowed_Bx1xTxS, mask_BxT=None, train=False):
    c = self.cfg
    (b, t), n, k = x_BxTxH.shape[:2], c.num_heads, c.hidden_dim // c.num_heads
    gain_in, gain_out = branch_gains(c)
    hyper = PLACEMENTS[c.placement].hypersphere
    qkv = Dense((3, n, k), use_bias=c.use_bias, dtype=c.dtype, unit=hyper and 'in',
                kernel_init=dense_init(c, c.hidden_dim, gain_in), name='qkv')
    out = Dense(c.hidden_dim, axes=2, use_bias=c.use_bias, dtype=c.dtype, unit=hyper and 'out',
                kernel_init=dense_init(c, c.hidden_dim, gain_out), name='out')
    q_BxTxNxK, k_BxTxNxK, v_BxTxNxK = jnp.unstack(qkv(x_BxTxH), axis=2)
    if c.qk_norm:
      q_BxTxNxK = norms.LayerNorm(c.norm_eps, c.use_bias, name='q_norm')(q_BxTxNxK)
      k_BxTxNxK = norms.LayerNorm(c.norm_eps, c.use_bias, name='k_norm')(k_BxTxNxK)
    if PLACEMENTS[c.placement].qkv_norm:  # the model's norm on q, k and v, per head
      mask_BxTN = jnp.repeat(jnp.ones((b, t)) if mask_BxT is None else mask_BxT, n, axis=1)
      q_BxTxNxK, k_BxTxNxK, v_BxTxNxK = (
          norms.make_norm(c.norm, c, f'{name}_norm')(a.reshape(b, t * n, k), mask_BxTN,
                                                     train).reshape(b, t, n, k)
          for name, a in (('q', q_BxTxNxK), ('k', k_BxTxNxK), ('v', v_BxTxNxK)))
    if c.pos == 'rope':
      q_BxTxNxK, k_BxTxNxK = rope(q_BxTxNxK), rope(k_BxTxNxK)
    if hyper:  # nGPT: unit queries and keys per head, times s_qk
      s_qk_NxK = ngpt.scaled_param(self, 'sqk', (n, k), 1.0, c.hidden_dim ** -0.5)
      q_BxTxNxK = (ngpt.unit(q_BxTxNxK) * s_qk_NxK).astype(q_BxTxNxK.dtype)
      k_BxTxNxK = (ngpt.unit(k_BxTxNxK) * s_qk_NxK).astype(k_BxTxNxK.dtype)
    diagnose = self.is_mutable_collection('intermediates')
    if c.attention == 'cudnn' and not diagnose:
      # cuDNN's vmap rule needs the heads axis
      allowed_BxNxTxS = jnp.broadcast_to(allowed_Bx1xTxS, (b, n, t, t))
      out_BxTxNxK = jax.nn.dot_product_attention(
          q_BxTxNxK, k_BxTxNxK, v_BxTxNxK, mask=allowed_BxNxTxS, is_causal=True,
          scale=k ** 0.5 if hyper else None, implementation='cudnn')
      return out(out_BxTxNxK)
    # The mask is added as a bias (no select in the backward), and in float32
    # the queries are scaled before the product (T x K values, not T x S; in
    # bfloat16 that would add a rounding). nGPT's unit q, k: sqrt(d_k) instead.
    scale = k ** 0.5 if hyper else k ** -0.5
    if c.dtype == 'float32':
      q_BxTxNxK, scale = q_BxTxNxK * scale, 1.0
    q_BxNxTxK, k_BxNxSxK, v_BxNxSxK = (
        a.transpose(0, 2, 1, 3) for a in (q_BxTxNxK, k_BxTxNxK, v_BxTxNxK))
    bias_Bx1xTxS = jnp.where(allowed_Bx1xTxS, 0.0, -1e30).astype(f32)
    outs, logit_maxes, entropies = [], [], []
    for start, end in query_blocks(t) if self.blocked else [(0, t)]:  # R = end - start
      logits_BxNxRxS = jnp.einsum('bntk,bnsk->bnts', q_BxNxTxK[:, :, start:end],
                                  k_BxNxSxK[:, :, :end], preferred_element_type=f32)
      if scale != 1.0:
        logits_BxNxRxS = logits_BxNxRxS * scale
      probs_BxNxRxS = jax.nn.softmax(logits_BxNxRxS + bias_Bx1xTxS[:, :, start:end, :end],
                                     axis=-1)
      if diagnose:
        allowed_Bx1xRxS = allowed_Bx1xTxS[:, :, start:end, :end]
        logit_maxes.append(jnp.where(allowed_Bx1xRxS, logits_BxNxRxS, -jnp.inf).max())
        entropies.append(-(probs_BxNxRxS * jnp.log(jnp.maximum(probs_BxNxRxS, 1e-30))
                           ).sum(-1))
      outs.append(jnp.einsum('bnts,bnsk->bntk', probs_BxNxRxS.astype(c.dtype),
                             v_BxNxSxK[:, :, :end]))
    if diagnose:
      self.sow('intermediates', 'logit_max', jnp.stack(logit_maxes).max())
      self.sow('intermediates', 'entropy', jnp.concatenate(entropies, axis=-1).mean())
    out_BxNxTxK = jnp.concatenate(outs, axis=2)
    return out(out_BxNxTxK.transpose(0, 2, 1, 3))


class Mlp(nn.Module):
  """Position-wise GELU feed-forward layer."""
  cfg: ModelConfig

  @nn.compact
  def __call__(self, x_BxTxH):
    c = self.cfg
    gain_in, gain_out = branch_gains(c)
    hyper = PLACEMENTS[c.placement].hypersphere
    h = Dense(c.mlp_dim, use_bias=c.use_bias, dtype=c.dtype, unit=hyper and 'in',
              kernel_init=dense_init(c, c.hidden_dim, gain_in), name='up')(x_BxTxH)
    if hyper:  # nGPT's s_uv sqrt(d) on the up projection
      s_uv = self.param('suv', nn.initializers.ones, (c.mlp_dim,), f32)
      h = h * (s_uv * c.hidden_dim ** 0.5).astype(h.dtype)
    return Dense(c.hidden_dim, use_bias=c.use_bias, dtype=c.dtype, unit=hyper and 'out',
                 kernel_init=dense_init(c, c.mlp_dim, gain_out), name='down')(nn.gelu(h))


class Block(nn.Module):
  """One transformer block: attention and MLP sublayers with the placement.

  Parameter names start with 'attn' or 'mlp' (`split_shared`). `placement_fn`:
  the apply of this block's run of layers (`placements.stages`; None: the
  placement's own). `layer`: the 0-based depth index (traced in the depth loop).
  """
  cfg: ModelConfig
  blocked: bool = True
  placement_fn: Any = None

  @nn.compact
  def __call__(self, x_BxTxH, allowed_Bx1xTxS, mask_BxT, train, layer=0):
    c = self.cfg
    place = self.placement_fn or PLACEMENTS[c.placement].apply
    collect = self.is_mutable_collection('intermediates')
    sublayers = (('attn', lambda h: Attention(c, self.blocked, name='attn')(
                      h, allowed_Bx1xTxS, mask_BxT, train)),
                 ('mlp', lambda h: Mlp(c, name='mlp')(h)))

    def sow_input_stats(prefix, h):
      for key, value in probes.norm_input_stats(h, mask_BxT).items():
        self.sow('intermediates', f'{prefix}_{key}', value)

    for name, sublayer in sublayers:
      def norm(suffix, h):
        if collect:
          sow_input_stats(f'{name}_{suffix}', h)
        return norms.make_norm(c.norm, c, f'{name}_{suffix}')(h, mask_BxT, train)

      def measured(h):
        out = sublayer(h)
        if collect:
          self.sow('intermediates', f'{name}_out_rms', probes.rms(out, mask_BxT))
          sow_input_stats(f'{name}_sub', h)  # what the sublayer sees
        return out

      def param(shape):  # Site's gate (a scalar) and scale (per feature)
        return lambda suffix, init=1.0: self.param(
            f'{name}_{suffix}', nn.initializers.constant(init), shape, f32)

      if collect:  # the stream the sublayer joins
        self.sow('intermediates', f'{name}_stream_rms', probes.rms(x_BxTxH, mask_BxT))
      site = Site(name, layer, c.num_layers, norm, param(()), param((c.hidden_dim,)))
      x_BxTxH = place(x_BxTxH, measured, site)
    return x_BxTxH


SHARES = ('all', 'attention', 'ffn', 'none')  # model.share


def _is_shared(path: str, share: str, per_depth: tuple[str, ...] = ()) -> bool:
  if path.endswith(tuple(f'_{suffix}' for suffix in per_depth)):
    return False
  return share == 'all' or (share in ('attention', 'ffn') and
                            path.startswith('attn' if share == 'attention' else 'mlp'))


def split_shared(tree: dict, share: str, per_depth: tuple[str, ...] = ()
                 ) -> tuple[dict, dict]:
  """Splits a block's top-level param dict into (shared, per-depth) parts;
  names ending in '_<suffix>' for a suffix in `per_depth` are never shared."""
  shared = {k: v for k, v in tree.items() if _is_shared(k, share, per_depth)}
  return shared, {k: v for k, v in tree.items() if not _is_shared(k, share, per_depth)}


ADMIN_PROFILE_ROWS = 8


def admin_profile_tokens(rng, vocab_size: int, t: int):
  """Admin's profiling batch: ADMIN_PROFILE_ROWS rows of uniformly random token ids."""
  return jax.random.randint(rng, (ADMIN_PROFILE_ROWS, t), 0, vocab_size)


class AlbertGPT(nn.Module):
  """Token ids [B, T] -> next-token logits [B, T, V] (float32)."""
  cfg: ModelConfig

  def _block_init(self, rng):
    c = self.cfg
    x = jnp.zeros((1, 1, c.hidden_dim), c.dtype)
    return Block(c, parent=None).init(rng, x, jnp.ones((1, 1, 1, 1), bool),
                                      jnp.ones((1, 1)), False)

  def _admin_profile(self, shared, layers, x_RxTxH):
    """`layers` with each depth's '<sublayer>_omega' set by Admin's profiling
    (Liu et al. 2020; the rule: docs/variants.md) of the initialised model on
    `x_RxTxH`. Each depth runs its block twice: once to measure both sublayers
    (the MLP's input does not depend on its own omega), once with both set."""
    c = self.cfg
    r, t = x_RxTxH.shape[:2]
    block = Block(c, blocked=False, parent=None)
    allowed_Rx1xTxT, mask_RxT = attention_mask(jnp.ones((r, t))), jnp.ones((r, t))
    variables = {}
    if c.has_running_stats:  # normalize with the initial running statistics
      variables['batch_stats'] = self._block_init(jax.random.key(0))['batch_stats']

    def run(x, layer_params, layer, attn_omega, mlp_omega):
      width = x.shape[-1]
      params = {**shared, **layer_params, 'attn_omega': jnp.full((width,), attn_omega),
                'mlp_omega': jnp.full((width,), mlp_omega)}
      y, sown = block.apply({**variables, 'params': params}, x, allowed_Rx1xTxT, mask_RxT,
                            False, layer, mutable=['intermediates'])
      sown = probes.flatten_sown(sown['intermediates'])  # the block's own diagnostics:
      ms = {sub: (jnp.mean(sown[f'{sub}_sub_feat_var'] + sown[f'{sub}_sub_feat_mean'] ** 2),
                  sown[f'{sub}_out_rms'] ** 2) for sub in ('attn', 'mlp')}  # E[x^2], E[f^2]
      return y, ms

    def body(carry, xs):
      x, omega = carry
      layer_params, layer = xs
      _, ms = run(x, layer_params, layer, omega, 1.0)
      mlp_omega = jnp.sqrt(omega ** 2 * ms['attn'][0] + ms['attn'][1])
      next_omega = jnp.sqrt(mlp_omega ** 2 * ms['mlp'][0] + ms['mlp'][1])
      y, _ = run(x, layer_params, layer, omega, mlp_omega)
      return (y, next_omega), (omega, mlp_omega)

    depth = c.num_layers
    _, (attn_L, mlp_L) = jax.lax.scan(
        body, (x_RxTxH, jnp.ones((), f32)), (layers, jnp.arange(depth, dtype=jnp.int32)),
        length=depth)
    shape_LxH = layers['attn_omega'].shape
    return {**layers, 'attn_omega': jnp.broadcast_to(attn_L[:, None], shape_LxH),
            'mlp_omega': jnp.broadcast_to(mlp_L[:, None], shape_LxH)}

  @nn.compact
  def __call__(self, tokens_BxT, segment_ids_BxT, mask_BxT, train=False,
               grad_probes_L=None, perturb=None):
    """Logits; with `grad_probes_L` (zeros [L]) their gradient is ||dLoss/dx_d||.

    Sows per-depth diagnostics as 'depth/<name>' [L, ...] into a mutable
    'intermediates', and the stream after each block, 'stream' [L, B, T, H],
    into a mutable 'residuals'. `perturb` = (scale_L, delta_BxTxH): scale_L[d]
    * delta is added to the stream after block d (lnexp.measure.perturbation).
    """
    c = self.cfg
    collect = self.is_mutable_collection('intermediates')
    t = tokens_BxT.shape[1]
    e, h, depth = c.embed_dim, c.hidden_dim, c.num_layers
    placement = PLACEMENTS[c.placement]
    unit = ngpt.unit if placement.hypersphere else lambda table: table  # nGPT: unit rows
    embed_VxE = self.param('token_embed', nn.initializers.truncated_normal(
        c.init_scale), (c.vocab_size, e), f32)
    pos_LxE = self.param('pos_embed', nn.initializers.truncated_normal(
        c.init_scale), (c.max_len, e), f32) if c.pos == 'learned' else None
    proj_ExH = self.param('embed_proj', dense_init(c, e), (e, h), f32) if e != h else None

    def embed(tokens_BxT):
      x_BxTxE = unit(embed_VxE)[tokens_BxT]
      if pos_LxE is not None:
        x_BxTxE = x_BxTxE + unit(pos_LxE[:tokens_BxT.shape[1]])
      if c.embed_scale != 1.0:  # into the stack only: a tied output layer keeps its scale
        x_BxTxE = x_BxTxE * c.embed_scale
      if proj_ExH is not None:
        x_BxTxE = matmul_tokens(x_BxTxE, proj_ExH)
      return unit(x_BxTxE).astype(c.dtype)
    x_BxTxH = embed(tokens_BxT)

    # One block init per depth; shared parts keep depth 0's values, parts the
    # placement keeps per depth (Admin's omega) are stacked even when shared.
    def init_blocks(rng):
      if c.share == 'all':
        shared, layers = split_shared(self._block_init(rng)['params'], c.share,
                                      placement.per_depth)
        layers = jax.tree.map(lambda p: jnp.broadcast_to(p, (depth,) + p.shape), layers)
      else:
        stacked = jax.lax.map(lambda r: self._block_init(r)['params'],
                              jax.random.split(rng, depth))
        shared, layers = split_shared(stacked, c.share, placement.per_depth)
        shared = jax.tree.map(lambda p: p[0], shared)
      if placement.profiled:
        tokens_RxT = admin_profile_tokens(jax.random.fold_in(rng, 1), c.vocab_size, t)
        layers = self._admin_profile(shared, layers, embed(tokens_RxT))
      return {'shared': shared, 'layers': layers}

    blocks = self.param('blocks', init_blocks)
    shared, layers = blocks['shared'], blocks['layers']
    stats = None
    if c.has_running_stats:
      def init_stats():  # the norms' own initial statistics, one set per depth
        stats = self._block_init(jax.random.key(0))['batch_stats']
        lead = () if c.bn_share_stats else (depth,)
        return jax.tree.map(lambda s: jnp.broadcast_to(s, lead + s.shape), stats)
      stats = self.variable('batch_stats', 'blocks', init_stats)

    mutable = ['batch_stats'] if (c.has_running_stats and train) else []
    allowed_Bx1xTxS = attention_mask(segment_ids_BxT)
    probes_L = jnp.zeros((depth,), f32) if grad_probes_L is None else grad_probes_L
    bumps_L = None if perturb is None else perturb[0]
    keep_streams = self.is_mutable_collection('residuals') and not self.is_initializing()

    def body(block, carry, xs):
      x_in, shared_stats = carry
      layer_params, layer_stats, probe, bump, layer = xs
      variables = {'params': {**shared, **layer_params}}
      if c.has_running_stats:
        variables['batch_stats'] = shared_stats if c.bn_share_stats else layer_stats
      x, new_vars = block.apply(variables, x_in, allowed_Bx1xTxS, mask_BxT, train, layer,
                                mutable=mutable + (['intermediates'] if collect else []))
      if perturb is not None:
        x = x + (bump * perturb[1]).astype(x.dtype)
      if grad_probes_L is not None:
        x = probes.grad_probe(x, probe)
      diag = {}
      if collect:
        diag = probes.flatten_sown(new_vars['intermediates'])
        diag['residual_rms'] = probes.rms(x, mask_BxT)
        diag.update(probes.transition(x_in, x, mask_BxT))
      new_stats = new_vars.get('batch_stats') if mutable else None
      stream = x if keep_streams else None
      if c.bn_share_stats:
        return (x, new_stats if mutable else shared_stats), (None, diag, stream)
      return (x, shared_stats), (new_stats, diag, stream)

    init_carry_stats = stats.value if (stats is not None and c.bn_share_stats) else None
    layer_stats = stats.value if (stats is not None and not c.bn_share_stats) else None
    # One depth loop per run of layers of the placement (one run but for Mix-LN);
    # a block outside any loop (run <= scan_unroll) splits attention into blocks.
    xs = (layers, layer_stats, probes_L, bumps_L, jnp.arange(depth, dtype=jnp.int32))
    carry, outs, start = (x_BxTxH, init_carry_stats), [], 0
    for count, place in stages(c):
      block = Block(c, blocked=c.scan_unroll >= count, placement_fn=place, parent=None)
      run_xs = xs if count == depth else jax.tree.map(lambda a: a[start:start + count], xs)
      carry, ys = jax.lax.scan(functools.partial(body, block), carry, run_xs, length=count,
                               unroll=min(c.scan_unroll, count))
      outs.append(ys)
      start += count
    ys = outs[0] if len(outs) == 1 else jax.tree.map(lambda *a: jnp.concatenate(a), *outs)
    (x_BxTxH, carry_stats), (ys_stats, depth_diag, streams_LxBxTxH) = carry, ys
    for name, value in depth_diag.items():
      self.sow('intermediates', f'depth/{name}', value)
    if keep_streams:
      self.sow('residuals', 'stream', streams_LxBxTxH)
    if mutable and not self.is_initializing():
      stats.value = carry_stats if c.bn_share_stats else ys_stats

    if placement.final_norm:
      x_BxTxH = norms.make_norm(c.norm, c, 'final_norm')(x_BxTxH, mask_BxT, train)
    if c.tie_embeddings:
      x_BxTxE = x_BxTxH.astype(f32)
      if proj_ExH is not None:
        x_BxTxE = matmul_tokens(x_BxTxE, proj_ExH.T)
      logits = matmul_tokens(x_BxTxE, unit(embed_VxE).T)
      if not placement.hypersphere:
        # Unit-variance embeddings reused as the output layer: scale by E^-1/2
        # so initial logits have unit scale (as T5 does for tied embeddings).
        logits = logits * e ** -0.5
    else:
      gain = 1.0 if placement.hypersphere else c.unembed_init  # normalized: gain moot
      logits = Dense(c.vocab_size, use_bias=c.use_bias, dtype=c.dtype,
                     unit=placement.hypersphere and 'in',
                     kernel_init=dense_init(c, h, gain), name='unembed')(x_BxTxH)
    if placement.hypersphere:  # nGPT: cosine logits times s_z
      logits = logits * ngpt.scaled_param(self, 'sz', (c.vocab_size,), 1.0, h ** -0.5)
    return logits.astype(f32)


# The registry entry's declarations (lnexp.models.archs): where the per-depth
# parameters and the ones before the first block live, what a config needs
# to fit together, and the costs estimated from shapes before anything is built.
LAYER_PARAMS = ('blocks', 'layers')  # stacked [L, ...]: unshared block parts
INPUT_PARAMS = ('token_embed', 'pos_embed', 'embed_proj')
ACT_PER_TOKEN_H = 8   # residual, norm outputs, q/k/v, attention output (x hidden)


def check(cfg) -> None:
  """ConfigError where heads, rotary positions or cuDNN attention do not fit."""
  m = cfg.model
  if m.hidden_dim % m.num_heads:
    raise ConfigError(f'model.hidden_dim={m.hidden_dim} is not divisible by '
                      f'model.num_heads={m.num_heads}')
  if m.pos == 'rope' and (m.hidden_dim // m.num_heads) % 2:
    raise ConfigError('model.pos=rope needs an even head dimension '
                      '(hidden_dim / num_heads)')
  placement = PLACEMENTS[m.placement]
  if m.qk_norm and (placement.qkv_norm or placement.hypersphere):
    raise ConfigError(f'model.qk_norm=True is moot with model.placement={m.placement!r}, '
                      'which normalizes q, k and v itself (leave it False)')
  if m.attention == 'cudnn' and m.dtype != 'bfloat16':
    raise ConfigError(f'model.attention=cudnn needs model.dtype=bfloat16 (cuDNN flash '
                      f'attention runs in 16 bits), not {m.dtype!r}')


def costs(cfg) -> dict:
  """Estimates from shapes (`Arch.costs`). Activations per layer: ~ACT_PER_TOKEN_H
  x hidden + 2 x mlp values per token, two attention matrices per head. FLOPs per
  token: 6 x matmul parameters + 12 x L x H x T (attention scores and values).
  Blocks: the depth steps a step runs one after another."""
  m, t = cfg.model, cfg.train
  h, e, v, mlp, layers = m.hidden_dim, m.embed_dim, m.vocab_size, m.mlp_dim, m.num_layers
  tokens = t.batch_size * t.seq_len
  attn, ffn = 4 * h * h + 4 * h + 2 * h, 2 * h * mlp + mlp + h + 2 * h
  copies = {part: 1 if _is_shared(part, m.share) else layers for part in ('attn', 'mlp')}
  embed = v * e + t.seq_len * e + (e * h if e != h else 0)
  unembed = ((h * e if e != h else 0) if m.tie_embeddings else h * v) + v
  attention = 2 * t.batch_size * m.num_heads * t.seq_len ** 2
  return {'params': copies['attn'] * attn + copies['mlp'] * ffn + embed + unembed + 2 * h,
          'activations': layers * (tokens * (ACT_PER_TOKEN_H * h + 2 * mlp) + attention),
          'flops': float(tokens * (6 * matmul_params_per_token(cfg)
                                   + 12 * layers * h * t.seq_len)),
          'blocks': layers}


def matmul_params_per_token(cfg) -> int:
  """Matmul parameters applied per token, a shared block counted once per depth."""
  m = cfg.model
  h, e, v = m.hidden_dim, m.embed_dim, m.vocab_size
  block = 4 * h * h + 2 * h * m.mlp_dim
  embed = e * h if e != h else 0
  unembed = (h * e if e != h else 0) + e * v if m.tie_embeddings else h * v
  return m.num_layers * block + embed + unembed
