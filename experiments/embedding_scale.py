"""Claims 10 and 10b: does the embedding's scale matter, and does LayerNorm absorb it? (claims v4)

  python -m lnexp.run --config experiments/embedding_scale.py[:quick|:full]

No norm and post-LN at the learned size of lnexp.claims.sizes.learned_config
(d=128, 2 ALBERT-shared layers, 2,000 steps; the untied output layer
initialised at zero, so every run starts at ln V whatever the scale;
docs/claims-v4-pilots.md) on `topics`, with the embedding entering the stack
scaled by 0.3, 1 and 3 (`model.embed_scale`: interior scales, where v3's x10
started no norm at 60 nats), peak LR 1e-3, 3e-3, 1e-2 (grown by a grid step
where a best LR sits at an edge, twice at most), 5 seeds.

--full adds pre-LN.

Metric: per variant and scale, the final eval loss at the best LR of that
(variant, scale) (seed mean; a failed run at ln V), per seed; the paired
contrasts c(s) = loss(x s) - loss(x 1) for s = 0.3 and 3 (signed: not biased
upwards as v3's max - min of noisy values was).

--- rule claim-10-v4 ---
Verdict rules, fixed before running (claims v4), over 5 seeds by 95% paired
t-intervals with minimum effect delta = 0.03 nats (above the 0.02 nats seed
sd of the best-LR loss at this size in claim 2's v4 runs), Holm over each
claim's two contrasts; a best LR at an edge of its grid after extension
makes a contrast inconclusive. Claim 10 ("embedding layers produce outputs
that need to be scaled appropriately"): no norm's contrasts c(0.3) and c(3);
supported if either lies outside +-delta (either sign: the scale matters),
contradicted if both are inside +-delta (no effect), inconclusive
otherwise. Claim 10b ("LayerNorm maintains these activations within a range
conducive to stable training", read: post-LN is insensitive to the
embedding's scale): post-LN's contrasts c(0.3) and c(3); supported if both
are inside +-delta, contradicted if either lies outside, inconclusive
otherwise. Both verdicts are named "early training" if post-LN at scale 1
and its best LR closes less than 75% of the gap between the previous-token
loss and the Bayes floor (seed mean). The interactions c_none(s) -
c_post(s) are reported beside, exploratory.
--- end rule ---
"""
from lnexp.claims import sizes
from lnexp.claims.catalog import Change, Claim, Quote

ORDER = 5
VERSION = 4
RUNTIME = ('100 points of the learned-size claims model (90 and 10 after grid extension), '
           '189 process-minutes of group wall time on a 2-core CPU (2026-12-07, mostly beside '
           'a second suite on the same cores: about 100 alone).')
SCALED = Quote('For instance, in NLP models using transformers, embedding layers produce '
               'outputs that need to be scaled appropriately for subsequent attention '
               'layers.', '10')
ABSORBED = Quote('LayerNorm maintains these activations within a range conducive to stable '
                 'training.', '10b')
QUOTES = (SCALED, ABSORBED)
CLAIMS = {'10': Claim('Embedding scale', SCALED.text),
          '10b': Claim('LayerNorm absorbs the embedding scale', ABSORBED.text)}

CHANGES = (
    Change('claims 10, 10b: model', 'd=64, 300 steps, tied unit embeddings (no norm x 10 '
           'started at 60.6 nats)', 'the learned size of claim 2 (d=128, 2,000 steps), the '
           'output layer initialised at zero: every run starts at ln V',
           'the v3 models had not learned the task; a fair start at every scale'),
    Change('claims 10, 10b: scales and LRs', 'x 0.1, 1, 10; 2 LRs, every best at an edge',
           'x 0.3, 1, 3; 3 LRs extended at an edge', 'v3 rested on one extreme point and an '
           'unbracketed grid'),
    Change('claims 10, 10b: metric', 'max - min over the scales (biased above 0)',
           'the signed paired contrasts loss(x s) - loss(x 1), Holm over the two',
           'an estimator without upward bias'),
    Change('claim 10b: rule', 'spread(none) - spread(post-LN) > delta',
           "post-LN's contrasts inside +-delta", 'the article says LayerNorm keeps the '
           'range whatever the scale; post-LN on its own is what that predicts'),
    Change('claims 10, 10b: seeds and delta', '3 seeds, delta 0.05', '5 seeds, delta 0.03',
           'power; delta above the measured seed sd (0.02 nats)'),
)
SCALES = (0.3, 1.0, 3.0)
DELTA = 0.03


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = sizes.learned_config(size)
  c.data.source = 'topics'
  c.optim.lr_extend = sizes.lr_extend(size)
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  names = {'smoke': ('none',), 'full': ('none', 'layernorm-post', 'layernorm-pre')}.get(
      size, ('none', 'layernorm-post'))
  scales = (1.0, 3.0) if size in ('smoke', 'quick') else SCALES
  lrs = {'smoke': (1e-2,), 'quick': (3e-3, 1e-2)}.get(size, (1e-3, 3e-3, 1e-2))
  return [{**sizes.LEARNED_VARIANTS[n], 'model.embed_scale': s, 'optim.lr': lr, **seed}
          for n in names for s in scales for seed in sizes.seeds(size, headline=True)
          for lr in lrs]


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claims 10 and 10b: the signed contrasts of the best loss in the embedding's scale."""
  from lnexp.claims import evidence as ev  # the report's extra: running needs none of it
  from lnexp.claims import regime
  df = ev.load(workdir, point_ids)
  best, rows = ev.best_losses(df, ['variant', 'model.embed_scale'])

  scales = sorted(df['model.embed_scale'].unique())  # SCALES; --quick runs two of them
  others = [x for x in scales if x != 1.0]
  have = lambda v: all((v, x) in best for x in scales)  # noqa: E731

  def contrasts(variant):  # the rule's: loss(x s) - loss(x 1), paired by seed
    return ev.family([ev.compare(
        f'{variant}: loss(x{x:g}) - loss(x1)', ev.losses(best[(variant, x)]),
        ev.losses(best[(variant, 1.0)]), DELTA,
        edge=ev.edge(best[(variant, x)], best[(variant, 1.0)])) for x in others]) \
        if have(variant) else []

  def contrast(variant, x):
    return ev.difference(ev.losses(best[(variant, x)]), ev.losses(best[(variant, 1.0)]))
  c10, c10b = contrasts('none'), contrasts('layernorm-post')
  decisive = lambda cs: [c.outcome in ('supported', 'contradicted') for c in cs]  # noqa
  none_effect = lambda cs: bool(cs) and all(c.outcome == 'no effect' for c in cs)  # noqa
  verdict10 = ('supported' if any(decisive(c10)) else 'contradicted' if none_effect(c10)
               else 'inconclusive')
  verdict10b = ('contradicted' if any(decisive(c10b)) else 'supported'
                if none_effect(c10b) else 'inconclusive')
  beside = [ev.compare(f'c_none(x{x:g}) - c_post(x{x:g})', contrast('none', x),
                       contrast('layernorm-post', x), DELTA, primary=False)
            for x in others if have('none') and have('layernorm-post')]
  post = best.get(('layernorm-post', 1.0))
  closed = regime.closed_at_best(post.per_seed) if post else None
  early, scale = regime.scale_note(ev.LEARNED_SCALE, [closed])
  tables = [ev.table('Per variant and embedding scale (`model.embed_scale`): runs trained/'
                     'collapsed/diverged; best LR (seed-mean); final eval loss there '
                     '(mean ± sd over seeds).',
                     ['variant', 'embed scale', 'trained/collapsed/diverged', 'best LR',
                      'final eval loss'], rows),
            ev.comparisons_table("The rules' contrasts (Holm within each claim): claim 10 "
                                 "on no norm (outside +-delta either way: the scale "
                                 "matters), claim 10b on post-LN (inside +-delta: LayerNorm "
                                 'absorbs the scale), and the interactions beside.',
                                 c10 + c10b + ev.family(beside))]
  effect = lambda cs: '; '.join(f'{c.name} {ev.fmt_interval(c.interval)}' for c in cs)  # noqa
  return [ev.Finding('10', verdict10 + early, effect(c10), tables, [], [scale]),
          ev.Finding('10b', verdict10b + early, effect(c10b), [], [])]
