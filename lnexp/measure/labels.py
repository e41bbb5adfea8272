"""Did a finished run learn? A run that did not is `collapsed` (guide: label runs
before averaging them); `status` stays ok/diverged beside it."""
from __future__ import annotations

import math

import numpy as np

from lnexp.data.base import entropy

# A language model is collapsed when its final eval loss has covered less than
# this fraction of the way from the unigram entropy H to the best achievable
# loss (the data's entropy floor where known, else 0): loss >= H - 0.1 (H - floor).
LEARNED_FRACTION = 0.1
# A classifier is collapsed at accuracy <= chance + this many standard errors.
CHANCE_STANDARD_ERRORS = 2


def definition() -> str:
  """The collapsed label in words, built from the constants above, so the
  report (lnexp.claims.writeup) states the rule the result rows were labelled by."""
  f = LEARNED_FRACTION
  return (f'collapsed (finished without learning: final eval loss ≥ H − {f:g} (H − floor), '
          f'less than {f:.0%} of the way from the unigram entropy H of the eval targets '
          'to the data\'s entropy floor, 0 where none is known as on text; a classifier '
          f'at most {CHANCE_STANDARD_ERRORS:g} standard errors above chance accuracy)')


def unigram_entropy(batches) -> float:
  """Entropy (nats) of the target tokens' own frequencies over `batches`
  (loss-masked): the best loss of a model that ignores its input."""
  targets = np.concatenate([b['targets'][b['loss_mask'] > 0] for b in batches])
  p = np.bincount(targets) / len(targets)
  # Zeros dropped first: recorded rows summed these terms in this order (bitwise).
  return float(entropy(p[p > 0]))


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
  se = math.sqrt(chance * (1 - chance) / examples)
  return bool(accuracy <= chance + CHANCE_STANDARD_ERRORS * se)
