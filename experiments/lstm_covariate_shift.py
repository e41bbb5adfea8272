"""Claim 8: LayerNorm in LSTMs (covariate shift, hidden-state variance over time).

  python -m lnexp.run --config experiments/lstm_covariate_shift.py[:quick|:full]

A byte-level LSTM language model (lnexp.models.lstm: hidden 64, embedding 64) on
CPython's docs (python_docs, packed 64-byte windows: time step t is t bytes
into the window), batch 16, 300 AdamW steps with 5% warm-up; no norm,
LayerNorm (Ba et al. 2016) and per-time-step BatchNorm (Cooijmans et al.
2016); peak LR 1e-3, 3e-3, 1e-2, 3e-2, grown by a step where the best LR is at
an edge (twice at most); 3 seeds. 36 points (45 after grid extension), 3.6
process-minutes on a 2-core CPU (2026-12-05).

Metrics: hidden-state variance over time, the coefficient of variation
(std / mean over the 64 time steps) of the per-step variance of h_t at the
last diagnostic step, at each variant's best LR; steps to reach the target
train loss (the highest final train loss, smoothed over 5 logs, among the
variants' best-LR runs of the seed); drift of the input pre-activations'
feature means between diagnostics 10 steps apart; LR sensitivity (Wortsman
et al. 2023, as in lnexp.report).

--- rule claim-8 ---
Verdict rule, fixed before running. LayerNorm vs no norm over 3 seeds, 95%
paired t-intervals, each at the variant's best LR (mean over seeds; a best LR
at an edge of the grid after extension makes the comparison inconclusive):
(a) d = log CV(no norm) - log CV(LayerNorm) of the hidden-state variance over
time, delta = log 1.25; (b) d = best final eval loss(no norm) -
loss(LayerNorm), delta = 0.02 nats. Verdict: the common outcome of (a) and
(b) if they agree, else mixed. Per-time-step BatchNorm reported beside.
--- end rule ---
"""
from lnexp.claims import sizes
from lnexp.models.validate import with_arch

VARIANTS = ({'model.norm': 'none'}, {'model.norm': 'layernorm'},
            {'model.norm': 'batchnorm'})


def get_config(arg=''):
  c = sizes.claims_config(sizes.size_of(arg))
  c.optim.lr_extend = sizes.lr_extend(sizes.size_of(arg))
  c = with_arch(c, 'lstm')  # the claims model's transformer-only keys: defaults
  c.data.source = 'python_docs'
  return c


def get_sweep(arg=''):
  size = sizes.size_of(arg)
  lrs = {'smoke': (1e-2,), 'quick': (3e-3, 3e-2)}.get(size, (1e-3, 3e-3, 1e-2, 3e-2))
  variants = VARIANTS[1:2] if size == 'smoke' else VARIANTS
  return [{**v, 'optim.lr': lr, **seed} for v in variants
          for seed in sizes.seeds(size) for lr in lrs]
