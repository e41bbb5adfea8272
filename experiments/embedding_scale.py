"""Claims 10 and 10b: does the embedding's scale matter, and does LayerNorm absorb it?

  python -m lnexp.run --config experiments/embedding_scale.py[:quick|:full]

No norm and post-LN (GPT-2 branch init) with the embedding entering the stack
scaled by 0.1, 1 and 10 (`model.embed_scale`), peak LR 3e-3 and 1e-2, 300
steps on `topics`, 3 seeds.

--full adds pre-LN.

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
from lnexp.claims.catalog import Claim, Quote

ORDER = 5
RUNTIME = ('36 points, 3.0 process-minutes on a 2-core CPU (2026-12-05; about half that '
           'with --jobs 2).')
SCALED = Quote('For instance, in NLP models using transformers, embedding layers produce '
               'outputs that need to be scaled appropriately for subsequent attention '
               'layers.', '10')
ABSORBED = Quote('LayerNorm maintains these activations within a range conducive to stable '
                 'training.', '10b')
QUOTES = (SCALED, ABSORBED)
CLAIMS = {'10': Claim('Embedding scale', SCALED.text),
          '10b': Claim('LayerNorm absorbs the embedding scale', ABSORBED.text)}

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


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claims 10 and 10b: the spread of the best loss over the embedding's scale."""
  from lnexp.claims import evidence as ev  # the report's extra: running needs none of it
  df = ev.load(workdir, point_ids)
  best, rows = ev.best_losses(df, ['variant', 'model.embed_scale'])
  spread = {}
  for (variant, _), b in best.items():
    for s, loss in ev.losses(b).items():
      spread.setdefault(variant, {}).setdefault(s, []).append(loss)
  spread = {v: {s: max(x) - min(x) for s, x in by.items()} for v, by in spread.items()}
  none = spread.get('none', {})
  c10 = ev.compare('spread(none) - 0', none, {s: 0.0 for s in none}, 0.05)
  # Scale matters without a norm unless the spread is within delta of zero.
  verdict10 = {'supported': 'supported', 'no effect': 'contradicted'}.get(c10.outcome,
                                                                        'inconclusive')
  c10b = [ev.compare('spread(none) - spread(layernorm-post)', none,
                     spread.get('layernorm-post', {}), 0.05)]
  tables = [ev.table('Per variant and embedding scale (`model.embed_scale`): runs trained/'
                     'collapsed/diverged; the better LR (seed-mean); final eval loss there.',
                     ['variant', 'embed scale', 'trained/collapsed/diverged', 'best LR',
                      'final eval loss'], rows),
            ev.table('Spread over the three scales of the best final eval loss, per '
                     'variant (mean ± sd over seeds).', ['variant', 'spread (nats)'],
                     [[v, ev.stat(s.values())] for v, s in spread.items()]),
            ev.comparisons_table("The rules' comparisons: claim 10 (first row; 'no effect' "
                                 'there means the scale did not matter: contradicted), '
                                 'claim 10b (d > 0: LayerNorm absorbs the scale).',
                                 [c10] + c10b)]
  return [ev.Finding('10', verdict10, f'{c10.name}: {ev.fmt_interval(c10.interval)} nats',
                     tables, [], [ev.SMALL_SCALE]),
          ev.Finding('10b', ev.combine([c.outcome for c in c10b]), '; '.join(
              f'{c.name} {ev.fmt_interval(c.interval)} {c.outcome}' for c in c10b), [], [])]
