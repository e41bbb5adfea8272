"""The claims suite's shared model, its headline variants and its sizes: smoke
(the tests' pipeline check), quick, core (the default), full (more seeds,
depths, data) and accel (one accelerator, where an experiment sets ACCEL).
Every verdict is at this small scale (~56k parameters, ~0.3M tokens per run).
"""
from __future__ import annotations

from lnexp.config import base_config
from lnexp.errors import ConfigError

SIZES = ('smoke', 'quick', 'core', 'full', 'accel')
ACCEL_STEPS = 1875  # 30.7M tokens per run
LRS = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)


# The headline variants, each with a fair initialisation: without a norm the
# embedding enters the stack x 0.1, so the initial loss is ~ln V, not ~2 ln V
# (docs/claims-history.md).
VARIANTS = {
    'none': {'model.norm': 'none', 'model.embed_scale': 0.1},
    'layernorm-post': {'model.norm': 'layernorm', 'model.placement': 'post'},
    'layernorm-pre': {'model.norm': 'layernorm', 'model.placement': 'pre'},
    'rezero': {'model.norm': 'none', 'model.placement': 'rezero', 'model.embed_scale': 0.1},
    'layernorm-deepnorm': {'model.norm': 'layernorm', 'model.placement': 'deepnorm',
                           'model.branch_init': 'plain'},
}
HEADLINE = tuple(VARIANTS)
# Claims v4: the zero-initialised output layer starts every variant at ln V, so
# none needs a smaller embedding (docs/claims-v4-pilots.md).
LEARNED_VARIANTS = {name: {k: v for k, v in overrides.items() if k != 'model.embed_scale'}
                    for name, overrides in VARIANTS.items()}
LEARNED_LRS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
LEARNED_STEPS = 2000
# Where the article is loose about this model (the Coverage table's notes).
NO_ALBERTAGPT = ('no public description of AlbertAGPT exists; lnexp tests an ALBERT-'
                 'style (shared-layer) GPT in its place')
POST_PRE = ('post-LN (LayerNorm after each residual sum) is the original Transformer, '
            'BERT, GPT-1 and ALBERT; GPT-2, GPT-3 and most later LLMs use pre-LN '
            '(LayerNorm at each sub-layer\'s input, plus a final one)')


def variants(*names: str) -> list[dict]:
  return [VARIANTS[n] for n in names]


def size_of(arg: str) -> str:
  """The size in a config argument 'SIZE' or 'SIZE@DIR' (DIR: see depth.py)."""
  size = arg.partition('@')[0] or 'core'
  if size not in SIZES:
    raise ConfigError(f'experiment size {size!r} is not one of: {", ".join(SIZES)}')
  return size


def seeds(size: str, headline: bool = False) -> list[dict]:
  """Seed overrides, each varying the init and the data; headline claims get 5
  in the core suite, the others 3."""
  if size == 'accel':  # init seeds only: lanes of one program (data.seed is structural)
    return [{'train.seed': s} for s in range(2)]
  n = {'smoke': 1, 'quick': 2, 'core': 5 if headline else 3, 'full': 5}[size]
  return [{'train.seed': s, 'data.seed': s} for s in range(n)]


def lrs(size: str) -> tuple[float, ...]:
  return {'smoke': (1e-2, 3e-1), 'quick': (1e-3, 1e-2, 1e-1),
          'accel': (1e-3, 3e-3, 1e-2)}.get(size, LRS)


def lr_extend(size: str) -> int:
  """Grid steps per side a sweep may add past an edge (optim.lr_extend); none
  for the pipeline checks."""
  return {'smoke': 0, 'quick': 0, 'accel': 1}.get(size, 2)


def claims_config(size: str, steps: int = 300):
  """The claims model at `size`; `steps` is the core length (warm-up 5%)."""
  c = base_config()
  m, t = c.model, c.train
  m.num_layers, m.hidden_dim, m.embed_dim, m.num_heads, m.mlp_dim = 2, 64, 64, 4, 256
  m.tie_embeddings, m.unembed_init = True, 1.0  # v3's start; v4 sets its own fair one
  t.batch_size, t.seq_len = 16, 64
  if size == 'smoke':
    m.hidden_dim = m.embed_dim = 16
    m.num_heads, m.mlp_dim = 2, 32
    t.batch_size, t.seq_len = 4, 16
    t.fast_compile = True  # 4 steps: compiling is most of the run
    steps = 4
  elif size == 'quick':  # a pipeline check within 12 minutes on 2 cores
    steps = max(steps // 6, 10)
  elif size == 'accel':
    m.num_layers, m.hidden_dim, m.embed_dim, m.num_heads, m.mlp_dim = 8, 256, 256, 4, 1024
    m.dtype = 'bfloat16'
    t.batch_size, t.seq_len = 64, 256
    steps = ACCEL_STEPS
    c.diagnostics.every = 250
  t.steps = steps
  t.eval_every = max(steps // 6, 1)
  t.log_every = t.eval_every if size == 'smoke' else 10
  t.checkpoint_every = steps if size == 'smoke' else max(steps // 3, 1)
  t.eval_batches = 2 if size == 'smoke' else 4
  c.optim.warmup_steps = round(0.05 * steps)
  if size == 'accel':  # a cut-off run loses at most 250 steps
    t.checkpoint_every, t.log_every = 250, 50
  return c


def learned_config(size: str):
  """The claims v4 model, chosen by pilots before any v4 rule
  (docs/claims-v4-pilots.md); smoke and quick shrink it."""
  c = claims_config(size, LEARNED_STEPS)
  m, t = c.model, c.train
  m.tie_embeddings, m.unembed_init = False, 0.0
  if size in ('core', 'full'):
    m.hidden_dim = m.embed_dim = 128
    m.mlp_dim = 512
    t.eval_every, t.eval_batches, t.checkpoint_every = 500, 64, 500
    t.log_every, c.diagnostics.every = 50, 250
  elif size == 'quick':
    t.steps, c.optim.warmup_steps = 150, 8
    t.eval_every, t.checkpoint_every = 50, 50
  return c


def learned_lrs(size: str) -> tuple[float, ...]:
  return {'smoke': (1e-2, 1e-1), 'quick': (3e-3, 3e-2),
          'accel': lrs('accel')}.get(size, LEARNED_LRS)
