"""Eval loss by position in the document, beside the exact references of `topics`.

For the article's "without losing track of past data": on `topics`
(lnexp.data.topics) the Bayes posterior's advantage over the previous-token
predictor grows with the document seen so far, so a model that keeps track of
the past stays close to the Bayes loss at late positions (docs/diagnostics.md).
"""
from __future__ import annotations

import numpy as np

from lnexp.data.base import BOS


def document_positions(inputs_BxT: np.ndarray) -> np.ndarray:
  """Per input position [B, T], how many of its document's tokens precede it,
  BOS excluded (0: the input is BOS); -1 before a row's first BOS (a packed row
  starting mid-document)."""
  t_BxT = np.broadcast_to(np.arange(inputs_BxT.shape[1]), inputs_BxT.shape)
  last_bos_BxT = np.maximum.accumulate(np.where(inputs_BxT == BOS, t_BxT, -1), axis=1)
  return np.where(last_bos_BxT >= 0, t_BxT - last_bos_BxT, -1)


def by_position(losses_NxBxT: np.ndarray, positions_NxBxT: np.ndarray,
                mask_NxBxT: np.ndarray, length: int) -> tuple[list[int], list[float | None]]:
  """(token count, mean loss) per position k = 0..length-1 over the masked
  targets with a known k; the mean is None where no target sits at k (a
  non-finite loss, a diverged model's, stays in: the mean is then not finite)."""
  keep = (mask_NxBxT > 0) & (positions_NxBxT >= 0)
  k, losses = positions_NxBxT[keep], losses_NxBxT[keep].astype(np.float64)
  count_P = np.bincount(k, minlength=length)[:length]
  with np.errstate(invalid='ignore', over='ignore'):
    total_P = np.bincount(k, weights=losses, minlength=length)[:length]
  return count_P.tolist(), [float(total_P[p] / count_P[p]) if count_P[p] else None
                            for p in range(length)]


def reference_losses(source, batches: list[dict]) -> dict[str, list]:
  """Counts and the Bayes and previous-token losses per position on `batches`
  (a source with exact references: `log_probs`, `context_free_log_probs`)."""
  stack = lambda f: np.stack([f(b) for b in batches])  # noqa: E731
  positions, mask = stack(lambda b: document_positions(b['inputs'])), stack(
      lambda b: b['loss_mask'])
  length = positions.shape[-1]
  count, bayes = by_position(-stack(source.log_probs), positions, mask, length)
  _, context_free = by_position(-stack(source.context_free_log_probs), positions, mask,
                                length)
  return {'position_count': count, 'position_bayes_loss': bayes,
          'position_context_free_loss': context_free}


def model_losses(losses_NxBxT: np.ndarray, batches: list[dict]) -> list[float | None]:
  """One model's mean eval loss per position (`eval_token_losses` of one lane)."""
  positions = np.stack([document_positions(b['inputs']) for b in batches])
  mask = np.stack([b['loss_mask'] for b in batches])
  return by_position(losses_NxBxT, positions, mask, positions.shape[-1])[1]
