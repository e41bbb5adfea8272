"""Did a finished run learn? A run that did not is `collapsed` (guide: label runs
before averaging them); `status` stays ok/diverged beside it."""
from __future__ import annotations

import math

import numpy as np

# A language model is collapsed when its final eval loss has covered less than
# this fraction of the way from the unigram entropy H to the best achievable
# loss (the data's entropy floor where known, else 0): loss >= H - 0.1 (H - floor).
LEARNED_FRACTION = 0.1


def unigram_entropy(batches) -> float:
  """Entropy (nats) of the target tokens' own frequencies over `batches`
  (loss-masked): the best loss of a model that ignores its input."""
  targets = np.concatenate([b['targets'][b['loss_mask'] > 0] for b in batches])
  p = np.bincount(targets) / len(targets)
  p = p[p > 0]
  return float(-(p * np.log(p)).sum())


def lm_collapsed(final_eval_loss, unigram: float, floor: float | None) -> bool | None:
  """None when there is no final loss (a diverged run)."""
  if final_eval_loss is None or not math.isfinite(final_eval_loss):
    return None
  floor = 0.0 if floor is None else floor
  return bool(final_eval_loss >= unigram - LEARNED_FRACTION * (unigram - floor))


def classifier_collapsed(accuracy, classes: int, examples: int) -> bool | None:
  """At most chance + 2 standard errors of chance accuracy on `examples`."""
  if accuracy is None or not math.isfinite(accuracy):
    return None
  chance = 1.0 / classes
  return bool(accuracy <= chance + 2 * math.sqrt(chance * (1 - chance) / examples))
