"""The result row: one JSON object per finished point, appended to results.jsonl.

Its fields, their order and meaning: docs/data-and-workdir.md. JSON never
holds NaN or Infinity (null instead).
"""
from __future__ import annotations

import jax
import numpy as np

from lnexp.measure import labels, perturbation
from lnexp.models.archs import ARCHS
from lnexp.models.model import ModelConfig
from lnexp.train.program import fetch
from lnexp.train.steps import DIVERGED_EXPLODED


def result_rows(group, cfg, state, host: dict, source, wall_s: float) -> list[dict]:
  """The rows of a finished group, from its final lane state and host record."""
  diverged_step = fetch(state['diverged_step'])
  reason = fetch(state['diverged_reason'])
  steps = fetch(state['step'])
  evals = host['evals']
  batch_stats_losses = host.get('last_eval_batch_stats')  # BatchNorm only
  accuracy = host.get('last_eval_accuracy')  # classification only
  eval_set = [source.eval_batch(i) for i in range(group.config.train.eval_batches)]
  unigram = None if accuracy else labels.unigram_entropy(eval_set)
  examples = sum(int(b['loss_mask'].sum()) for b in eval_set)
  references = ({f'{k}_loss': v for k, v in source.eval_losses.items() if k != 'unigram'}
                if hasattr(source, 'eval_losses') else {})  # topics: bayes, context_free
  perturb = cfg.diagnostics.perturbation and ARCHS[cfg.model.arch].per_depth
  rows = []
  for lane, point in enumerate(group.points):
    lane_evals = [e[1][lane] for e in evals if e[1][lane] is not None
                  and np.isfinite(e[1][lane])]
    div = int(diverged_step[lane])
    rows.append({
        'point_id': point.point_id, **point.overrides,
        'group': group.group_id, 'lane': lane,
        'status': 'ok' if div < 0 else 'diverged',
        'diverged_step': div if div >= 0 else None,
        'diverged_reason': None if div < 0 else (
            'loss_exploded' if reason[lane] == DIVERGED_EXPLODED else 'nonfinite'),
        'init_loss': host['init_loss'][lane],
        'final_train_loss': host['last_train_loss'][lane],
        'final_eval_loss': lane_evals[-1] if lane_evals else None,
        'best_eval_loss': min(lane_evals) if lane_evals else None,
        'final_eval_loss_batch_stats': batch_stats_losses[lane] if batch_stats_losses
                                       else None,
        **{k: float(v[lane]) for k, v in host.get('batch1', {}).items()},
        **{k: v[lane] for k, v in host.get('positions', {}).items()},
        'final_eval_accuracy': accuracy[lane] if accuracy else None,
        'steps': int(steps[lane]),
        'wall_s': wall_s, 'entropy_floor': source.entropy_floor,
        'unigram_entropy': unigram, 'vocab_size': source.vocab_size, **references})
    last = rows[-1]
    if perturb:
      last.update(_perturbation(cfg, state, lane, eval_set[0]) if div < 0 else
                  {'perturb_amplification': None, 'perturb_kl': None})
    last['collapsed'] = None if div >= 0 else (
        labels.classifier_collapsed(last['final_eval_accuracy'], source.vocab_size, examples)
        if accuracy else
        labels.lm_collapsed(last['final_eval_loss'], unigram, source.entropy_floor))
  return rows


def _perturbation(cfg, state, lane: int, batch) -> dict:
  """The trained lane's error amplification and KL (lnexp.measure.perturbation)."""
  variables = jax.tree.map(lambda a: np.asarray(a[lane]), {
      'params': state['params'], 'batch_stats': state['batch_stats']})
  out = perturbation.measure(ModelConfig.from_config(cfg), variables, batch,
                             seed=cfg.train.seed)
  return {'perturb_amplification': float(out['amplification']),
          'perturb_kl': float(out['kl'])}
