"""Where the claims suite's experiment configs and workdirs live."""
from __future__ import annotations

import os

# Cheapest first, so a cut-short `--jobs 1` suite still has whole experiments
# (with more jobs, shards of all experiments run longest first).
EXPERIMENTS = ('gradient_scaling', 'depth_tune', 'depth', 'covariate_shift', 'mechanism',
               'embedding_scale', 'sharing', 'variable_length', 'generalization',
               'batchnorm_text', 'hyperparams', 'lr_sensitivity', 'lstm_covariate_shift',
               'cnn_depth')
# A second-stage experiment reads its tuning experiment's results ('SIZE@WORKDIR'
# as its config argument), so the suite runs it after everything else.
TUNED_BY = {'depth': 'depth_tune'}
# The experiments with an accelerator size (`--size accel`).
ACCEL = ('lr_sensitivity',)

# In a source checkout, the repository's experiments/ (elsewhere: --experiments DIR).
CHECKOUT_EXPERIMENTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'experiments')


def experiment_file(experiments: str, name: str) -> str:
  return os.path.join(experiments, f'{name}.py')


def workdir(out: str, name: str) -> str:
  return os.path.join(out, 'results', name)
