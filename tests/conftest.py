"""Shared tiny configs for tests (everything small enough for a 2-core CPU)."""
import os

# Tests compile many tiny programs: without LLVM optimisation and with XLA's
# classic loop emitters (what `train.fast_compile` sets per program) they
# compile ~4x faster, and tiny steps barely notice. Set before jax is
# imported; subprocesses inherit it.
os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_backend_optimization_level=0'
                           ' --xla_cpu_use_fusion_emitters=false').strip()

import pytest  # noqa: E402

from lnexp import config as config_lib  # noqa: E402


def tiny_config(**overrides):
  """A model small enough to compile in about a second."""
  base = {'model.num_layers': 2, 'model.hidden_dim': 16, 'model.embed_dim': 16,
          'model.num_heads': 2, 'model.mlp_dim': 32, 'model.vocab_size': 11,
          'train.seq_len': 8, 'train.batch_size': 4}
  base.update(overrides)
  return config_lib.apply_overrides(config_lib.base_config(), base)


@pytest.fixture
def tiny():
  return tiny_config
