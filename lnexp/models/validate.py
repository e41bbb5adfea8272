"""The config against the registries: every key's choices, the per-lane keys,
`validate`, `canonical` and `with_arch`. (`lnexp.config` checks keys, types and
ranges; checks that need more than a config run where that exists: the data in
`lnexp.data.make_source`, the backend in `ModelConfig.from_config`.)
"""
from __future__ import annotations

from ml_collections import ConfigDict

from lnexp import config as config_lib
from lnexp.data import SOURCES
from lnexp.errors import ConfigError
from lnexp.models.archs import ARCHS
from lnexp.models.model import SHARES
from lnexp.models.norms import NORMS
from lnexp.models.placements import PLACEMENTS

CHOICES = {
    'model.arch': tuple(ARCHS),
    'model.norm': tuple(NORMS),
    'model.placement': tuple(PLACEMENTS),
    'model.share': SHARES,
    'model.pos': ('learned', 'rope'),
    'model.bn_axes': ('batch', 'batch_time', 'cumulative'),
    'model.branch_init': ('plain', 'gpt2'),
    'model.dtype': ('float32', 'bfloat16'),
    'model.attention': ('xla', 'cudnn'),
    'optim.name': ('adamw', 'sgd'),
    'train.lane_mode': ('auto', 'vmap', 'map'),
    'data.source': tuple(SOURCES),
}

# Scalar hyperparameters that vary per lane of one compiled program (key ->
# name in the per-lane `hp` dict); a norm's per-lane init knobs join them.
LANE_KEYS = {
    'optim.lr': 'lr', 'optim.warmup_steps': 'warmup_steps',
    'optim.weight_decay': 'weight_decay', 'optim.z_loss': 'z_loss',
    'optim.clip_norm': 'clip_norm', 'train.seed': 'seed', 'model.init_scale': 'init_scale',
    **{key: key.rpartition('.')[2] for norm in NORMS.values() for key in norm.lane_keys}}

DEFAULTS = config_lib.flatten(config_lib.base_config())


def validate(cfg: ConfigDict) -> None:
  """Raises ConfigError naming the first impossible value, in one line."""
  config_lib.check_ranges(cfg)
  for key, allowed in CHOICES.items():
    if config_lib.get(cfg, key) not in allowed:
      raise ConfigError(f'{key}={config_lib.get(cfg, key)!r} is not one of: '
                        f'{", ".join(allowed)}')
  m, arch, source = cfg.model, ARCHS[cfg.model.arch], SOURCES[cfg.data.source]
  _available('model.norm', m.norm, arch.norms(), m.arch)
  if 'placement' in arch.reads:
    _available('model.placement', m.placement, arch.placements, m.arch)
  if source.images is not None and source.images != arch.images:
    if arch.images:
      use = ' or '.join(name for name, s in SOURCES.items() if s.images is not False)
      raise ConfigError(f'model.arch={m.arch} needs an image source; data.source='
                        f'{cfg.data.source!r} is text (use data.source={use})')
    use = ' or '.join(name for name, a in ARCHS.items() if a.images)
    raise ConfigError(f'data.source={cfg.data.source!r} is an image source; model.arch='
                      f'{m.arch!r} is a language model (use model.arch={use})')
  for key in unread(m.arch):
    value, default = config_lib.get(cfg, key), DEFAULTS[key]
    if value != default:
      raise ConfigError(f'{key}={value!r} is not available with model.arch={m.arch!r}, '
                        f'which does not read it (leave it at {default!r})')
  arch.check(cfg)
  source.check(cfg.data)


def _available(key: str, value: str, allowed: tuple[str, ...], arch: str) -> None:
  if value not in allowed:
    raise ConfigError(f'{key}={value!r} is not available with model.arch={arch!r}; '
                      f'choose one of: {", ".join(allowed)}')


def unread(arch: str) -> list[str]:
  """The model.* keys (dotted) that `arch` does not read."""
  reads = ARCHS[arch].reads + ('arch', 'vocab_size')
  return [k for k in DEFAULTS if k.startswith('model.') and k[len('model.'):] not in reads]


def moot_keys(base: ConfigDict, sweep: list[dict]) -> set[str]:
  """The model.* keys no arch of the sweep reads: they do not define its runs,
  so a resume ignores them (a default changed since the run started)."""
  archs = {base.model.arch} | {p['model.arch'] for p in sweep if 'model.arch' in p}
  return set.intersection(*(set(unread(a)) for a in archs))


def with_arch(cfg: ConfigDict, arch: str) -> ConfigDict:
  """A copy of cfg on model.arch=`arch`, the keys it does not read back at their
  defaults (a config written for one family, switched to another)."""
  return config_lib.apply_overrides(cfg, {'model.arch': arch,
                                          **{k: DEFAULTS[k] for k in unread(arch)}})


def canonical(cfg: ConfigDict) -> ConfigDict:
  """Maps configs that define the same model to one: where the norm is the
  identity, placement is moot for archs that say so (a transformer; a CNN's
  placement matters even without a norm: it moves the ReLU), and 'pre'
  stands for all; with a placement that calls no norm (ReZero, nGPT) the norm
  is moot and 'none' stands for all, and with nGPT's (`hypersphere`) so is the
  output layer's init gain (the default stands for all). (Keys an arch does not
  read are at their defaults: `validate`.)"""
  m = cfg.model
  try:
    arch, placement = ARCHS[m.arch], PLACEMENTS[m.placement]
    moot = arch.norm_free_placement and NORMS[m.norm].identity and placement.moot_without_norm
  except KeyError:  # an unknown name: `validate` names it
    return cfg
  if not placement.calls_norm and m.placement in arch.placements and m.norm in arch.norms():
    # nGPT also normalizes its output layer by construction.
    gain = {'model.unembed_init': DEFAULTS['model.unembed_init']} if placement.hypersphere else {}
    return config_lib.apply_overrides(cfg, {'model.norm': 'none', **gain})
  return config_lib.apply_overrides(cfg, {'model.placement': 'pre'}) if moot else cfg
