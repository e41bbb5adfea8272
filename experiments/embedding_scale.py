"""Claims 10 and 10b: does the embedding's scale matter, and does LayerNorm absorb it?

  python -m lnexp.run --config experiments/embedding_scale.py[:quick|:full]

No norm and post-LN (GPT-2 branch init) with the embedding entering the stack
scaled by 0.1, 1 and 10 (`model.embed_scale`), peak LR 3e-3 and 1e-2, 300
steps on `topics`, 3 seeds. 36 points, 3.0 process-minutes on a 2-core CPU
(2026-12-05; about half that with --jobs 2). --full adds pre-LN.

Metric: per variant and seed, the spread (max - min) over the three scales of
the final eval loss at the better of the two LRs (a diverged run at ln V).

--- rule claim-10 ---
Verdict rules, fixed before running, over 3 seeds by 95% t-intervals with
minimum effect delta = 0.05 nats. Claim 10 ("embedding layers produce outputs
that need to be scaled appropriately for subsequent attention layers"):
supported if no-norm's spread is above delta (d = spread(no norm) - 0),
contradicted if it is inside delta (no effect), inconclusive otherwise.
Claim 10b ("LayerNorm maintains these activations within a range conducive to
stable training"): d = spread(no norm) - spread(post-LN) (positive:
LayerNorm absorbs the embedding's scale); supported / contradicted / no
effect / inconclusive.
--- end rule ---
"""
from lnexp.claims import sizes

SCALES = (0.1, 1.0, 10.0)


def get_config(arg=''):
  c = sizes.claims_config(sizes.size_of(arg))
  c.data.source = 'topics'
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  names = {'smoke': ('none',), 'full': ('none', 'layernorm-post', 'layernorm-pre')}.get(
      size, ('none', 'layernorm-post'))
  scales = (0.1, 10.0) if size in ('smoke', 'quick') else SCALES
  lrs = (1e-2,) if size in ('smoke', 'quick') else (3e-3, 1e-2)
  return [{**sizes.VARIANTS[n], 'model.embed_scale': s, 'optim.lr': lr, **seed}
          for n in names for s in scales for seed in sizes.seeds(size) for lr in lrs]
