"""Every config key with its default, its type and range, and applying overrides.

Config files start from `base_config()`; `get_sweep()` returns dotted-key
override dicts. User input is checked by `apply_overrides` (types) and
`lnexp.models.validate.validate` (ranges, registries). Imports no model.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import math
import os
import re
import sys
from typing import Any

from ml_collections import ConfigDict

from lnexp.errors import ConfigError


# Keys whose default changed after they were added, at their first default:
# what a workdir saved before the key existed ran with (`Workdir.check_base`).
FIRST_DEFAULTS = {'model.unembed_init': 1.0}
# The seeds of a point (init, data): points that differ only in these and the
# learning rate are one variant (lnexp.runtime.plan, lnexp.analysis.results).
SEED_KEYS = ('train.seed', 'data.seed')


def base_config() -> ConfigDict:
  """All keys with documented defaults (the seed article's post-LN ALBERT-GPT)."""
  c = ConfigDict()
  c.model = m = ConfigDict()
  m.arch = 'albert_gpt'       # albert_gpt | lstm | cnn (images); docs/variants.md
  m.norm = 'layernorm'        # the norm (docs/variants.md); groupnorm: cnn only
  m.placement = 'post'        # post: N(x+f(x)); pre: x+f(N(x)); others: docs/variants.md
  m.share = 'all'             # ALBERT cross-layer sharing: all | attention | ffn | none
  m.num_layers = 4            # transformer blocks (depth; shared ones count once per depth)
  m.hidden_dim = 128          # H
  m.embed_dim = 128           # E (factorized embedding V->E->H when E != H)
  m.num_heads = 4             # attention heads
  m.mlp_dim = 512             # MLP hidden width
  m.qk_norm = False           # per-head LayerNorm on q and k (Wortsman et al. 2023)
  m.pos = 'learned'           # learned absolute positions | rope
  m.use_bias = True           # biases in dense layers and norms
  m.init_scale = 1.0          # multiplies every init std (truncated normal, 1/sqrt(fan_in))
  m.embed_scale = 1.0         # multiplies the embedding entering the stack
  m.vocab_size = -1           # -1: the data source's; a set size must hold the data's
  m.tie_embeddings = False    # the token embedding doubles as the output layer
  m.unembed_init = 0.1        # output layer's init gain: a fair start (docs/variants.md)
  m.norm_eps = 1e-5           # added to the variance (mean square) inside every norm
  m.bn_momentum = 0.9         # BatchNorm/PowerNorm running-statistics momentum
  m.bn_axes = 'batch'         # batch (causal-safe, per position) | batch_time (leaks future)
                              # | cumulative (batch and positions <= t: causal-safe)
  m.bn_share_stats = False    # ablation: one set of running stats for all depths
  m.dyt_alpha_init = 0.5      # DyT (Zhu et al. 2025) default
  m.derf_alpha_init = 0.5     # Derf's initial alpha (Chen et al. 2025's default)
  m.mixln_post_fraction = 0.25  # mixln: the first floor(fraction x L) layers are post-LN
  m.groups = 4                # cnn groupnorm: channel groups (Wu & He 2018)
  m.dtype = 'float32'         # activation dtype; params, norms, optimizer stay float32
  m.attention = 'xla'         # xla (any backend) | cudnn (flash; GPU, bfloat16 only)
  m.branch_init = 'gpt2'      # gpt2: residual-branch outputs x 1/sqrt(2L) | plain
  m.scan_unroll = 4           # layers per scan iteration (speed only; docs/performance.md)

  c.optim = o = ConfigDict()
  o.name = 'adamw'            # adamw | sgd (with momentum)
  o.lr = 3e-3                 # peak learning rate
  o.warmup_steps = 0          # linear warm-up, then cosine decay
  o.min_lr_ratio = 0.1        # cosine decays to min_lr_ratio * lr
  o.b1 = 0.9                  # Adam beta1
  o.b2 = 0.98                 # Adam beta2
  o.eps = 1e-8                # Adam epsilon
  o.momentum = 0.9            # sgd only
  o.weight_decay = 0.0        # on matrices and embeddings, not norms or biases
  o.decoupled_wd = False      # True: decay = weight_decay * schedule, independent of lr
  o.clip_norm = 1.0           # global grad-norm clip per lane; 0 disables
  o.z_loss = 0.0              # weight of mean(log Z^2) (Wortsman et al. 2023)
  o.lr_extend = 0             # add up to N LRs per side until each best LR is interior

  c.train = t = ConfigDict()
  t.steps = 300               # optimizer steps
  t.batch_size = 32           # rows per step
  t.seq_len = 128             # tokens per row
  t.seed = 0                  # parameter init seed (per lane)
  t.eval_every = 100          # steps between evaluations (and at the end)
  t.eval_batches = 4          # held-out batches per evaluation
  t.log_every = 10            # steps between metric rows
  t.checkpoint_every = 100    # steps between checkpoints (and at the end)
  t.keep_checkpoints = 2      # checkpoints kept per group
  t.diverge_factor = 3.0      # loss > factor * init_loss counts as diverged
  t.max_lanes_per_program = 0  # 0: a whole group in one program
  t.lane_mode = 'auto'        # vmap | map (lanes in sequence, per device) | auto (map on CPU)
  t.fast_compile = False      # CPU: unoptimised programs (faster compiles, slower steps)
  t.storage_timeout_s = 300.0  # gs://: a storage operation this late stops the run (exit 75)

  c.data = d = ConfigDict()
  d.source = 'synthetic'      # synthetic | topics | text | python_docs | tfds | digits
  d.path = ''                 # text: a UTF-8 file
  d.max_bytes = 0             # text, python_docs: keep the first N bytes (0: all)
  d.tfds_name = ''            # tfds: dataset name, e.g. mnist (data_source, no TensorFlow)
  d.tfds_data_dir = ''        # tfds: where prepared datasets live
  d.tfds_download = False     # tfds: allow a download (never in tests: it hangs offline)
  d.seed = 0                  # data order and synthetic language
  d.pack = True               # pack documents (no cross-document attention) or pad
  d.num_symbols = 32          # synthetic: alphabet size (vocab adds PAD/BOS/EOS)
  d.order = 1                 # synthetic: Markov order (1 or 2)
  d.mean_doc_len = 48         # synthetic: mean document length (geometric)
  d.concentration = 0.3       # synthetic: Dirichlet concentration of next-token rows
  d.num_topics = 4            # topics: latent topics, one order-1 chain each

  c.diagnostics = g = ConfigDict()
  g.enabled = True            # per-depth diagnostics inside the step
  g.every = 0                 # 0: train.log_every
  g.ics_every = 0             # Santurkar et al. ICS cadence; 0 disables
  g.perturbation = False      # result rows: the trained model's error amplification, KL
  g.smoothness_every = 0      # Santurkar et al. smoothness every N steps; 0 disables
  g.position_losses = False   # result rows: eval loss by position in the document
  return c


def descriptions() -> dict[str, str]:
  """{dotted key: its comment in base_config()}, for --help: the source's own
  comments (continuation lines joined), so each key is documented once."""
  out, sections, key = {}, {}, None
  for line in inspect.getsource(base_config).splitlines():
    code, _, comment = (part.strip() for part in line.partition('#'))
    section = re.fullmatch(r'c\.(\w+) = (\w) = ConfigDict\(\)', code)
    field = re.fullmatch(r'(\w)\.(\w+) = .+', code)
    if section:
      sections[section[2]] = section[1]
    elif field and field[1] in sections:
      key = f'{sections[field[1]]}.{field[2]}'
      out[key] = comment
    elif key and not code and comment:  # a comment-only line continues the key above
      out[key] = f'{out[key]} {comment}'.strip()
    else:
      key = None
  return out


def flatten(cfg: ConfigDict | dict, prefix: str = '') -> dict:
  """Dotted-key view of a config."""
  out = {}
  for k, v in (cfg.to_dict() if isinstance(cfg, ConfigDict) else cfg).items():
    key = f'{prefix}{k}'
    out.update(flatten(v, key + '.') if isinstance(v, dict) else {key: v})
  return out


def _check_type(key: str, value: Any, default: Any) -> Any:
  if isinstance(default, bool):
    ok = isinstance(value, bool)
  elif isinstance(default, int):
    ok = isinstance(value, int) and not isinstance(value, bool)
  elif isinstance(default, float):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    value = float(value) if ok else value
  else:
    ok = isinstance(value, str)
  if not ok:
    raise ConfigError(
        f'{key}={value!r}: expected {type(default).__name__}, got '
        f'{type(value).__name__}')
  return value


def get(cfg: ConfigDict, key: str) -> Any:
  node = cfg
  for part in key.split('.'):
    if not isinstance(node, ConfigDict) or part not in node:
      raise ConfigError(f'unknown config key {key!r}; known sections: '
                        f'{", ".join(sorted(cfg.keys()))}')
    node = node[part]
  return node


def apply_overrides(cfg: ConfigDict, overrides: dict[str, Any]) -> ConfigDict:
  """Returns a copy of cfg with dotted-key overrides applied and type-checked."""
  cfg = ConfigDict(cfg.to_dict())
  for key, value in overrides.items():
    default = get(cfg, key)
    if isinstance(default, ConfigDict):
      raise ConfigError(f'{key!r} is a section, not a key')
    value = _check_type(key, value, default)
    section, _, leaf = key.rpartition('.')
    get(cfg, section)[leaf] = value
  return cfg


POSITIVE = ('model.num_layers', 'model.hidden_dim', 'model.embed_dim', 'model.num_heads',
            'model.mlp_dim', 'model.scan_unroll', 'model.groups', 'model.init_scale',
            'model.embed_scale', 'model.norm_eps', 'optim.lr', 'optim.eps', 'train.steps',
            'train.batch_size', 'train.seq_len', 'train.eval_every', 'train.eval_batches',
            'train.log_every', 'train.checkpoint_every', 'train.keep_checkpoints',
            'train.diverge_factor', 'train.storage_timeout_s', 'data.num_symbols',
            'data.mean_doc_len', 'data.concentration', 'data.num_topics')
NONNEGATIVE = ('model.unembed_init', 'optim.warmup_steps', 'optim.weight_decay',
               'optim.clip_norm', 'optim.z_loss', 'optim.lr_extend',
               'train.max_lanes_per_program', 'diagnostics.every', 'diagnostics.ics_every',
               'diagnostics.smoothness_every',
               'data.seed', 'data.max_bytes')
UNIT = {'model.bn_momentum': False, 'optim.b1': False, 'optim.b2': False,
        'optim.momentum': False, 'optim.min_lr_ratio': True,
        'model.mixln_post_fraction': True}  # [0, 1) or [0, 1]


def check_ranges(cfg: ConfigDict) -> None:
  """Every number finite and in its range: one place for all numeric keys."""
  for key, value in flatten(cfg).items():
    if isinstance(value, float) and not math.isfinite(value):
      raise ConfigError(f'{key}={value} must be a finite number')
  for key in POSITIVE:
    if not get(cfg, key) > 0:
      raise ConfigError(f'{key}={get(cfg, key)} must be > 0')
  for key in NONNEGATIVE:
    if get(cfg, key) < 0:
      raise ConfigError(f'{key}={get(cfg, key)} must be >= 0')
  for key, closed in UNIT.items():
    value = get(cfg, key)
    if not (0 <= value <= 1 if closed else 0 <= value < 1):
      raise ConfigError(f'{key}={value} must be in [0, 1{"]" if closed else ")"}')
  if cfg.model.vocab_size < 1 and cfg.model.vocab_size != -1:
    raise ConfigError(f'model.vocab_size={cfg.model.vocab_size} must be -1 (the '
                      "data's) or > 0")


@dataclasses.dataclass(frozen=True)
class ConfigFile:
  """A loaded config file: its base config, its sweep entries, the run's name
  (`runs/<name>` by default) and the path it came from."""
  base: ConfigDict
  sweep: list[dict]
  name: str
  path: str


def load_config_file(spec: str) -> ConfigFile:
  """Loads `path.py[:arg]`: executes the file once and calls its get_config(arg)
  and get_sweep(arg) (ConfigError with one line if any of it fails)."""
  path, _, arg = spec.partition(':')
  if not os.path.isfile(path):
    raise ConfigError(f'config file not found: {path}')
  name = os.path.splitext(os.path.basename(path))[0]
  module_spec = importlib.util.spec_from_file_location(f'lnexp_config_{name}', path)
  module = importlib.util.module_from_spec(module_spec)
  # The file's directory is on sys.path while its code runs (as big_vision and
  # the flax examples allow), so it can import a helper module next to it.
  directory = os.path.dirname(os.path.abspath(path))
  sys.path.insert(0, directory)
  try:
    module_spec.loader.exec_module(module)
  except Exception as e:  # a config file is user code: report, do not trace
    raise ConfigError(f'config file {path} failed to load: {type(e).__name__}: {e}')
  else:
    if not hasattr(module, 'get_config'):
      raise ConfigError(f'config file {path} defines no get_config()')
    cfg = _call(path, module.get_config, arg)
    if not isinstance(cfg, ConfigDict):
      raise ConfigError(f'{path}: get_config() returned {type(cfg).__name__}, not a '
                        'ConfigDict (start from lnexp.config.base_config())')
    sweep = _call(path, module.get_sweep, arg) if hasattr(module, 'get_sweep') else [{}]
  finally:
    sys.path.remove(directory)
  if not isinstance(sweep, (list, tuple)) or not sweep:
    raise ConfigError(f'{path}: get_sweep() must return a non-empty list of dicts')
  for entry in sweep:
    if not isinstance(entry, dict):
      raise ConfigError(f'{path}: get_sweep() entry {entry!r} is not a dict of '
                        'dotted keys')
  return ConfigFile(cfg, list(sweep), name + (f'-{arg}' if arg else ''), path)


def _call(path: str, fn, arg: str):
  """fn(arg) or fn(); a failure of the user's config code is a ConfigError."""
  try:
    return fn(arg) if arg else fn()
  except TypeError as e:
    if arg and 'positional argument' in str(e):
      raise ConfigError(f'{path}: {fn.__name__}() takes no argument, but the config '
                        f'was given one ({path}:{arg})') from None
    raise ConfigError(f'{path}: {fn.__name__}() failed: TypeError: {e}') from None
  except ConfigError:
    raise
  except Exception as e:  # a config file is user code: report, do not trace
    raise ConfigError(f'{path}: {fn.__name__}() failed: {type(e).__name__}: {e}'
                      ) from None
