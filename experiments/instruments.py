"""Claims 15, 16, 18, 19: what the logged instruments of one learned-size sweep say.

  python -m lnexp.run --config experiments/instruments.py[:quick|:full]

No norm, post-LN and pre-LN at the learned size of
lnexp.claims.sizes.learned_config (d=128, 2,000 AdamW steps of 16 x 64
tokens, 100 warm-up steps, the untied output layer initialised at zero:
every variant starts at ln V; docs/claims-v4-pilots.md) with 4 unshared
layers (share=none: per-layer update ratios need a layer's own weights; the
depth of claim 5's v4 model), on `topics`; peak LR 3e-3 and 1e-2, the best
LRs of claim 2's v4 runs at this width with 2 shared layers (no norm and
post-LN 3e-3, pre-LN 1e-2, bracketed there by a five-point grid; at 1e-2 no
norm ended at the previous-token loss), 5 seeds. Diagnostics every 100 steps
(lnexp.measure.diagnostics, docs/diagnostics.md); eval loss by position in the
document at the end (`diagnostics.position_losses`, lnexp.measure.positions).
Four findings read the same
runs; each is its own question with its own family of comparisons. "Settled"
means diagnostic steps from twice the warm-up (200) to the end. The minimum
effects rest on the seed spread of the same diagnostics in claim 2's v4 runs
(2 shared layers), read for that purpose, means included, before these rules
were written; the runs judged here (4 unshared layers) are new.

Metrics:
- 15, update ratios (LARS, You et al. 2017, steer by the per-layer ratio of
  update to parameter norm): per diagnostic step and submodule kind (attention,
  MLP), log(max / min over the 4 layers) of the update RMS / parameter RMS
  (`layer_update_ratio/*`); mean over the two kinds and the settled steps.
- 16, long-range: at the end, the eval loss minus the exact Bayes loss on the
  same tokens, over the targets at positions k >= 16 of their document (k:
  tokens of the document seen before the target; the Bayes posterior over the
  topic needs them; a packed row's first fragment, whose start is unseen, is
  left out), token-weighted; beside it, the same at k < 4.
- 18, attention range (Wortsman et al. 2023, "Small-scale proxies for
  large-scale Transformer training instabilities": attention-logit growth;
  Zhai et al. 2023: attention entropy collapse): the largest attention logit
  over layers and diagnostic steps, and the smallest mean attention entropy
  over layers and diagnostic steps after step 1, over the steps both runs of a
  seed pair logged before either diverged.
- 19, balance (Liu et al. 2020, "Understanding the Difficulty of Training
  Transformers": a sublayer's dependency on its residual branch): each
  sublayer's share of the stream it joins, out_rms^2 / (stream_rms^2 +
  out_rms^2) (`depth/*_out_rms`, `depth/*_stream_rms`); per step and kind,
  log(max / min over the 4 layers); mean over kinds and settled steps.

--- rule claims-15-16-18-19-v4 ---
Verdict rules, fixed before running (claims v4), on the 4-layer unshared
models, 5 seeds, 95% paired t-intervals. Diagnostics compare trained runs (a
collapsed or diverged run is missing, making its comparison inconclusive)
except in claim 18. Each claim's primary comparisons are one family: a
supported or contradicted one whose Holm-adjusted p is >= 0.05 becomes
inconclusive; a claim's verdict is the common outcome of its primary
comparisons, else mixed; exploratory comparisons are reported beside with no
verdict resting on them. Every verdict is named "early training" if post-LN
at the better of its two LRs (seed mean of final eval loss) closes less than
75% of the gap between the previous-token loss and the Bayes floor.
- Claim 15 ("prevents the network from making overly aggressive or overly
  cautious updates"): at each LR and for each of post-LN and pre-LN, d =
  spread(no norm) - spread(LayerNorm) of the per-layer update/parameter ratio
  (positive: LayerNorm's layers are updated more evenly), minimum effect
  delta = log 1.3 (above the 0.01-0.05 seed sd of the same log ratio between
  the shared block's attention and MLP update ratios in claim 2's v4 runs;
  no run logged per-layer ratios before). Four primary comparisons.
- Claim 16 ("without losing track of past data"; long-term dependencies):
  each variant at the better of its two LRs (seed mean of final eval loss, a
  diverged run at ln V; the two are claim 2's bracketed optima, not bracketed
  again here), for each of post-LN and pre-LN, d = excess(no norm) -
  excess(LayerNorm) of the eval loss over the Bayes loss at document
  positions k >= 16 (positive: LayerNorm keeps closer to the Bayes posterior
  where the past matters), minimum effect delta = 0.03 nats (above the
  0.018-0.034 nats seed sd of the whole eval loss at the best LR in claim 2's
  v4 runs). Two primary comparisons. Exploratory: the interaction, the same d
  at k >= 16 minus at k < 4.
- Claim 18 ("helps to stabilize the training of the highly expressive
  self-attention mechanisms"; the article's formula is post-LN): at LR 1e-2,
  no norm against post-LN, over the diagnostic steps both runs of a seed
  logged before either diverged: (a) d = log max attention logit(no norm) -
  log max attention logit(post-LN), delta = log 2 (above the 0.07-0.63 seed
  sd of log max logit in claim 2's v4 runs); (b) d = min attention
  entropy(post-LN) - min attention entropy(no norm) (positive: post-LN's
  attention collapses less), delta = 0.2 nats (above the 0.1-0.18 seed sd
  there). Two primary comparisons. Exploratory: the same at LR 3e-3, and
  pre-LN against no norm at both LRs.
- Claim 19 ("balances the contributions of each layer, ensuring that no single
  layer disproportionately influences"): at each LR and for each of post-LN
  and pre-LN, d = spread(no norm) - spread(LayerNorm) of the sublayers'
  shares of the residual stream over layers (positive: LayerNorm more
  balanced), delta = log 1.3 (above the 0.005-0.24 seed sd of the same
  spread over 2 shared blocks in claim 2's v4 runs, the stream's RMS
  approximated there from its logged mean and variance). Four primary
  comparisons.
--- end rule ---
"""
import math
import os

import numpy as np

from lnexp.claims import sizes
from lnexp.claims.catalog import Change, Claim, Quote

ORDER = 16
VERSION = 4
RUNTIME = ('30 points of the learned-size model with 4 unshared layers (twice a run): 45 '
           'minutes, mostly beside another suite process, on a 2-core CPU (2026-12-07).')
UPDATES = Quote('This consistent scaling prevents the network from making overly aggressive '
                'or overly cautious updates, which could destabilize training.', '15',
                'with Adam each parameter moves by about the learning rate whatever its '
                'gradient\'s scale; the ratio to the parameter\'s own size is what can differ')
PAST = Quote('ensuring that the model remains sensitive to new information without '
             'losing track of past data', '16',
             'said of RNNs; tested on the transformer (the article\'s model) on topics, '
             'whose exact Bayes posterior says what the past is worth at each position')
ATTENTION = Quote('This setup helps to stabilize the training of the highly expressive '
                  'self-attention mechanisms, where the dynamic range of activations can '
                  'vary significantly.', '18')
BALANCE = Quote('By normalizing the outputs at each stage, AlbertAGPT effectively balances '
                'the contributions of each layer, ensuring that no single layer '
                'disproportionately influences the model’s learning dynamics.', '19',
                'in post-LN each LayerNorm rescales the whole residual sum, so later layers '
                'outweigh earlier ones (Liu et al. 2020); pre-LN has the opposite drift')
QUOTES = (UPDATES,
          Quote('complicating the learning of long-term dependencies', '16',
                'said of RNNs without normalization; tested on the transformer'),
          PAST, ATTENTION, BALANCE,
          Quote('This consistency is crucial for building hierarchical representations '
                'that capture long-term dependencies in data, such as the complex '
                'grammatical structures found in natural language.', '16',
                'topics has one long-range dependency (the document\'s topic), not a '
                'hierarchy; "crucial" would need every norm-free model to fail'))
CLAIMS = {'15': Claim('Overly aggressive or cautious updates', UPDATES.text),
          '16': Claim('Keeping track of the past (long-range dependencies)', PAST.text),
          '18': Claim('Self-attention\'s dynamic range', ATTENTION.text),
          '19': Claim('Balanced contributions of the layers', BALANCE.text)}
CHANGES = (
    Change('claims 15, 16, 18, 19 (new)', 'not tested, though the diagnostics were logged '
           '(positions: not measured)', 'one learned-size sweep, 4 unshared layers, 5 seeds, '
           'a rule each, Holm within each', 'issue 34: test what the instruments already '
           'measure'),)

NAMES = ('none', 'layernorm-post', 'layernorm-pre')
LRS = (3e-3, 1e-2)
HIGH_LR = 1e-2
SPREAD_DELTA = math.log(1.3)
LOSS_DELTA = 0.03
LOGIT_DELTA, ENTROPY_DELTA = math.log(2), 0.2
LATE, EARLY = 16, 4  # document positions k >= LATE, k < EARLY
SCALE = ('the learned size with 4 unshared layers (claims v4): ~0.8M parameters, 2.0M '
         'tokens per run (lnexp.claims.sizes.learned_config); larger models may behave '
         'differently')


def get_config(arg=''):
  size = sizes.size_of(arg)
  c = sizes.learned_config(size)
  c.model.num_layers, c.model.share = 4, 'none'
  c.data.source = 'topics'
  c.diagnostics.every = max(c.train.steps // 20, 1)
  c.diagnostics.position_losses = True
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  names = NAMES[1:2] if size == 'smoke' else NAMES
  lrs = LRS[1:] if size == 'smoke' else LRS
  return [{**sizes.LEARNED_VARIANTS[n], 'optim.lr': lr, **seed}
          for n in names for lr in lrs for seed in sizes.seeds(size, headline=True)]


def analyse(workdir: str, figdir: str, point_ids=None) -> list:
  """Claims 15, 16, 18, 19 from one sweep's diagnostics and position losses."""
  from lnexp.analysis import results  # the report's extra: running needs none of it
  from lnexp.claims import evidence as ev
  from lnexp.claims import regime
  df = ev.load(workdir, point_ids)
  metrics = ev.metrics_of(workdir, df)
  settled = 2 * results.load_config(workdir)['base']['optim.warmup_steps']
  df['update_spread'] = [spread(metrics[p], update_ratios, settled) for p in df['point_id']]
  df['balance_spread'] = [spread(metrics[p], shares, settled) for p in df['point_id']]
  for key in ('update_spread', 'balance_spread'):
    df[key] = ev.trained_only(df, key)
  df['late'] = [excess(r, lambda k: k >= LATE) for r in df.to_dict('records')]
  df['early'] = [excess(r, lambda k: k < EARLY) for r in df.to_dict('records')]
  for key in ('late', 'early'):
    df[key] = ev.trained_only(df, key)
  df['end'] = [r['diverged_step'] if r['status'] != 'ok' else math.inf
               for r in df.to_dict('records')]

  def by(lr, variant):
    return df[np.isclose(df['optim.lr'], lr) & (df['variant'] == variant)]
  lrs = sorted(df['optim.lr'].unique())
  best = {v: ev.best_lr(g) for v, g in df.groupby('variant', sort=False)}
  post = best.get('layernorm-post')
  closed = regime.closed_at_best(post.per_seed) if post else None
  early, scale = regime.scale_note(SCALE, [closed])
  rows = [[f'{lr:g}', v, ev.counts(g['label']), ev.stat(g['loss_or_ln_v']),
           ev.median(g['update_spread']), ev.median(g['balance_spread']),
           ev.stat(g['early']), ev.stat(g['late'])]
          for (lr, v), g in df.groupby(['optim.lr', 'variant'], sort=True)]
  per_run = ev.table(
      'Per LR and variant: runs trained/collapsed/diverged; final eval loss; spread '
      'over the 4 layers of the update/parameter ratio (claim 15) and of the sublayers\' '
      'shares of the stream (claim 19), log(max/min), settled steps, median (IQR); eval '
      'loss minus Bayes loss at document positions k < 4 and k >= 16 (claim 16).',
      ['LR', 'variant', 'trained/collapsed/diverged', 'final eval loss', 'update spread',
       'share spread', 'excess, k < 4', 'excess, k >= 16'], rows)

  def spread_claim(claim, key, what):
    comps = ev.family([ev.compare(f'LR {lr:g}: {what}(none) - {what}({ln})',
                                  ev.by_seed(by(lr, 'none'), key), ev.by_seed(by(lr, ln), key),
                                  SPREAD_DELTA, label=f'{ln} at LR {lr:g}')
                       for lr in lrs for ln in ev.LN])
    return ev.Finding(claim, ev.combine([c.outcome for c in comps]) + early,
                      f'd = {what}(none) - {what}(LayerNorm), log(max/min) over layers: '
                      + '; '.join(f'{c.label} {ev.fmt_interval(c.interval)} {c.outcome}'
                                  for c in comps),
                      [per_run, ev.comparisons_table('The rule\'s comparisons (d > 0: '
                                                     'LayerNorm more even).', comps)],
                      [], [scale])

  out = [spread_claim('15', 'update_spread', 'update spread')]
  if 'none' in best:
    at_best = lambda v, key: {s: r[key] for s, r in best[v].per_seed.items()}  # noqa: E731
    comps = [ev.compare(f'excess at k >= {LATE}: none (LR {best["none"].lr:g}) - {ln} '
                        f'(LR {best[ln].lr:g})', at_best('none', 'late'), at_best(ln, 'late'),
                        LOSS_DELTA, label=ln) for ln in ev.LN if ln in best]
    comps += [ev.compare(f'{ln}: d at k >= {LATE} - d at k < {EARLY}',
                         ev.difference(at_best('none', 'late'), at_best(ln, 'late')),
                         ev.difference(at_best('none', 'early'), at_best(ln, 'early')),
                         LOSS_DELTA, primary=False) for ln in ev.LN if ln in best]
    comps = ev.family(comps)
    primary = [c for c in comps if c.primary]
    out.append(ev.Finding(
        '16', ev.combine([c.outcome for c in primary]) + early,
        f'd = excess(none) - excess(LayerNorm) over the Bayes loss at document positions '
        f'k >= {LATE}, each at its better LR: ' + '; '.join(
            f'{c.label} {ev.fmt_interval(c.interval)} {c.outcome}' for c in primary),
        [per_run, ev.comparisons_table('The rule\'s comparisons (d > 0: LayerNorm closer to '
                                       'the Bayes posterior) and the interaction beside.',
                                       comps)],
        position_figure(df, best, os.path.join(figdir, 'excess_by_position.png')), [scale]))
  out.append(attention_finding(df, metrics, lrs, early, scale, figdir))
  out.append(spread_claim('19', 'balance_spread', 'share spread'))
  return out


def attention_finding(df, metrics, lrs, early, scale, figdir):
  """Claim 18: attention-logit range and entropy collapse over common windows."""
  from lnexp.claims import evidence as ev
  comps, rows = [], []
  for lr in lrs:
    for ln in ev.LN:
      pairs = window_pairs(df, metrics, lr, 'none', ln)
      if not pairs:
        continue
      primary = lr == HIGH_LR and ln == 'layernorm-post'
      x = {s: a for s, (a, _) in pairs.items()}
      rows += [[f'{lr:g}', f'none vs {ln}', s, f'{a[0]:.3g} / {b[0]:.3g}',
                f'{a[1]:.3f} / {b[1]:.3f}'] for s, (a, b) in sorted(pairs.items())]
      comps.append(ev.compare(f'LR {lr:g}: log max logit(none) - log max logit({ln})',
                              {s: a[0] for s, a in x.items()},
                              {s: b[0] for s, (_, b) in pairs.items()}, LOGIT_DELTA,
                              log=True, label=f'{ln}, logit range', primary=primary))
      comps.append(ev.compare(f'LR {lr:g}: min entropy({ln}) - min entropy(none)',
                              {s: b[1] for s, (_, b) in pairs.items()},
                              {s: a[1] for s, a in x.items()}, ENTROPY_DELTA,
                              label=f'{ln}, entropy', primary=primary))
  comps = ev.family(comps)
  primary = [c for c in comps if c.primary]
  return ev.Finding(
      '18', ev.combine([c.outcome for c in primary]) + early,
      f'at LR {HIGH_LR:g}, no norm against post-LN: ' + '; '.join(
          f'{c.label} {ev.fmt_interval(c.interval, c.log)} {c.outcome}' for c in primary),
      [ev.table('Per LR, pair and seed, over the diagnostic steps both runs logged before '
                'either diverged: the largest attention logit (no norm / LayerNorm) and the '
                'smallest mean attention entropy after step 1 (nats).',
                ['LR', 'pair', 'seed', 'max attention logit', 'min attention entropy'], rows),
       ev.comparisons_table(f'The rule\'s comparisons (LR {HIGH_LR:g}, post-LN; d > 0: '
                            'LayerNorm keeps attention in range) and, exploratory, LR '
                            f'{min(lrs):g} and pre-LN.', comps)],
      attention_figure(df, metrics, os.path.join(figdir, 'attention_logits.png')), [scale])


def logged(m, key: str, first: float = 0, last: float = math.inf):
  """(steps [S], values [S, L]) of a per-depth metric logged at first <= step <= last."""
  if key not in m:
    return np.zeros(0), np.zeros((0, 0))
  s = m[m[key].notna() & (m['step'] >= first) & (m['step'] <= last)]
  values = [[np.nan if v is None else v for v in row] for row in s[key]]
  return s['step'].to_numpy(), np.asarray(values, dtype=float).reshape(len(s), -1)


def update_ratios(m, first: float):
  """{kind: [S, L]} update RMS / parameter RMS per layer."""
  return {k: logged(m, f'layer_update_ratio/{k}', first)[1] for k in ('attn', 'mlp')}


def shares(m, first: float):
  """{kind: [S, L]} each sublayer's share of the stream it joins (Liu et al. 2020)."""
  out = {}
  for k in ('attn', 'mlp'):
    f2 = logged(m, f'depth/{k}_out_rms', first)[1] ** 2
    x2 = logged(m, f'depth/{k}_stream_rms', first)[1] ** 2
    out[k] = f2 / (x2 + f2) if f2.shape == x2.shape else np.zeros((0, 0))
  return out


def spread(m, values_of, first: float) -> float:
  """Mean over kinds and steps of log(max / min over layers) of values_of's [S, L]."""
  per_kind = [np.log(v.max(1) / v.min(1)) for v in values_of(m, first).values()
              if v.size and np.isfinite(v).all() and (v > 0).all()]
  return float(np.mean(per_kind)) if len(per_kind) == 2 else math.nan


def excess(row: dict, where) -> float:
  """Token-weighted eval loss minus Bayes loss over document positions k with where(k)."""
  count, model, bayes = (row.get(k) for k in ('position_count', 'position_loss',
                                               'position_bayes_loss'))
  if not isinstance(count, list):
    return math.nan
  keep = [k for k, n in enumerate(count) if n and where(k)]
  if not keep or any(model[k] is None or not math.isfinite(model[k]) for k in keep):
    return math.nan
  return sum(count[k] * (model[k] - bayes[k]) for k in keep) / sum(count[k] for k in keep)


def window_pairs(df, metrics, lr, x_variant, y_variant) -> dict:
  """seed -> ((max logit, min entropy) of x, the same of y) over the diagnostic steps
  both runs logged up to the earlier one's divergence."""
  def run(variant):
    g = df[np.isclose(df['optim.lr'], lr) & (df['variant'] == variant)]
    return {s: r for s, r in zip(g['seed'], g.to_dict('records'))}
  xs, ys = run(x_variant), run(y_variant)
  out = {}
  for seed in sorted(set(xs) & set(ys)):
    end = min(xs[seed]['end'], ys[seed]['end'])
    pair = []
    for r in (xs[seed], ys[seed]):
      m = metrics[r['point_id']]
      logits = logged(m, 'depth/attn/logit_max', last=end)[1]
      entropy = logged(m, 'depth/attn/entropy', first=2, last=end)[1]
      pair.append((float(np.nanmax(logits)) if logits.size else math.nan,
                   float(np.nanmin(entropy)) if entropy.size else math.nan))
    out[seed] = tuple(pair)
  return out


def position_figure(df, best: dict, path: str) -> list[str]:
  """Eval loss minus Bayes loss by document position, each variant at its better LR."""
  from lnexp.claims import plots
  from lnexp.claims import evidence as ev
  fig, (ax,) = plots.figure()
  at = ev.at_best(*best.values())
  style = plots.styles(at)
  for variant, g in at.groupby('variant', sort=False):
    curves = [np.asarray([np.nan if (m is None or b is None) else m - b
                          for m, b in zip(r['position_loss'], r['position_bayes_loss'])])
              for r in g.to_dict('records') if isinstance(r.get('position_loss'), list)]
    if curves:
      ax.plot(np.arange(len(curves[0])), np.nanmean(curves, axis=0),
              color=style[variant]['color'], label=f'{variant} (LR {best[variant].lr:g})')
  ax.axvline(LATE, color='grey', linestyle=':', linewidth=1)
  ax.set_xlabel('position in the document (tokens seen)')
  ax.set_ylabel('eval loss - Bayes loss (nats, seed mean)')
  ax.legend(fontsize=7)
  ax.grid(True, alpha=0.3)
  return plots.save(fig, path)


def attention_figure(df, metrics: dict, path: str) -> list[str]:
  """Largest attention logit (over layers) against step, at the high LR."""
  from lnexp.claims import plots
  fig, (ax,) = plots.figure()
  d = df[np.isclose(df['optim.lr'], df['optim.lr'].max())]
  style = plots.styles(d)
  for variant, g in d.groupby('variant', sort=False):
    for i, pid in enumerate(g.sort_values('seed')['point_id']):
      steps, logits = logged(metrics[pid], 'depth/attn/logit_max')
      if logits.size:
        ax.plot(steps, np.nanmax(logits, axis=1), color=style[variant]['color'],
                alpha=1.0 if i == plots.FIRST else 0.35,
                label=variant if i == plots.FIRST else None)
  ax.set_yscale('log')
  ax.set_xlabel('step')
  ax.set_ylabel('largest attention logit (over layers)')
  ax.set_title(f'LR {d["optim.lr"].max():g}', fontsize=10)
  ax.legend(fontsize=7)
  ax.grid(True, alpha=0.3)
  return plots.save(fig, path)
