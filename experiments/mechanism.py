"""Claim 13 and Xu et al. 2019: what part of LayerNorm does the work?

  python -m lnexp.run --config experiments/mechanism.py[:quick|:full]

Post-LN (the article's model, GPT-2 branch init) with three norms on `topics`:
LayerNorm; LayerNorm-simple (no gain and bias); DetachNorm (LayerNorm-simple
whose mean and variance are constants in the backward pass; Xu et al. 2019,
"Understanding and Improving Layer Normalization"). Peak LR 1e-3, 3e-3, 1e-2
(grown by a grid step where the best sits at an edge, twice at most), 300
steps, 3 seeds.

Metric: final eval loss at each variant's best LR (mean over seeds; a
diverged run at ln V), per seed.

--- rule claim-13 ---
Verdict rule, fixed before running, over 3 seeds by 95% paired t-intervals
with minimum effect delta = 0.02 nats; a best LR at an edge of its grid after
extension makes a comparison inconclusive. Claim 13 (the gain and bias let
"the model to retain the expressiveness of its activations"): d =
loss(LayerNorm-simple) - loss(LayerNorm) (positive: gain and bias help);
supported / contradicted / no effect / inconclusive. Xu et al. 2019 (the
backward pass through the statistics matters, not only standardizing the
forward activations) is reproduced if d = loss(DetachNorm) -
loss(LayerNorm-simple) is supported.
--- end rule ---
"""
from lnexp.claims import sizes
from lnexp.claims.catalog import Claim, Quote

ORDER = 4
RUNTIME = ('27 points (30 after grid extension), 2.2 process-minutes on a 2-core CPU '
           '(2026-12-05; about half that with --jobs 2).')
EXPRESSIVENESS = Quote('This approach allows the model to retain the expressiveness of its '
                       'activations while maintaining stable distributions during '
                       'training.', '13',
                       'Xu et al. 2019 found the gain and bias often add overfitting and can '
                       'be dropped (LayerNorm-simple)')
QUOTES = (EXPRESSIVENESS,
          Quote('LayerNorm mitigates this by standardizing layer activations', '13-lit',
                "tested against Xu et al. 2019's alternative: DetachNorm keeps the "
                'standardized forward pass and drops the gradient through the statistics'))
CLAIMS = {'13': Claim('Gain and bias; what does the work (Xu et al. 2019)',
                      EXPRESSIVENESS.text)}

NORMS = ('layernorm', 'layernorm_simple', 'detachnorm')


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = sizes.claims_config(size)
  c.data.source = 'topics'
  c.optim.lr_extend = sizes.lr_extend(sizes.size_of(arg))
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  norms = NORMS[2:] if size == 'smoke' else NORMS
  lrs = {'smoke': (1e-2,), 'quick': (3e-3, 1e-2)}.get(size, (1e-3, 3e-3, 1e-2))
  return [{'model.norm': n, 'model.placement': 'post', 'optim.lr': lr, **seed}
          for n in norms for seed in sizes.seeds(size) for lr in lrs]


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claim 13 and Xu et al. 2019: gain and bias, and gradients through the statistics."""
  from lnexp.claims import evidence as ev  # the report's extra: running needs none of it
  df = ev.load(workdir, point_ids)
  best, rows = ev.best_losses(df, ['variant'])
  ln, simple, detach = (best.get((f'{n}-post',)) for n in NORMS)
  comps = []
  if ln and simple:
    comps.append(ev.compare('loss(LayerNorm-simple) - loss(LayerNorm)', ev.losses(simple),
                            ev.losses(ln), 0.02, edge=ev.edge(simple, ln)))
  xu = []
  if simple and detach:
    xu.append(ev.compare('loss(DetachNorm) - loss(LayerNorm-simple)', ev.losses(detach),
                         ev.losses(simple), 0.02, edge=ev.edge(detach, simple)))
  tables = [ev.table('Per variant (post placement, topics): runs trained/collapsed/diverged '
                     'over the grid; best LR (seed-mean); final eval loss there (mean ± sd).',
                     ['variant', 'trained/collapsed/diverged', 'best LR', 'final eval loss'],
                     rows),
            ev.comparisons_table("The rule's comparisons (d > 0: as the article, and Xu et "
                                 'al., predict).', comps + xu)]
  out = [ev.Finding('13', ev.combine([c.outcome for c in comps]), '; '.join(
      f'{c.name} {ev.fmt_interval(c.interval)} {c.outcome}' for c in comps), tables, [],
      [ev.SMALL_SCALE])]
  if xu:
    out.append(ev.Finding('13-lit', ev.reproduced(xu[0].outcome, 'supported'),
                          'Xu et al. 2019 (the backward pass through the mean and variance '
                          f'matters): {xu[0].name} {ev.fmt_interval(xu[0].interval)} nats',
                          [], []))
  return out
