"""Compiled programs: CPU compile options change compile and step time, not maths."""

import jax
import jax.numpy as jnp
import numpy as np

from lnexp.config import base_config
from lnexp.ops import bench
from lnexp.train import program as program_lib


def test_fast_compile_changes_speed_not_results():
  """train.fast_compile's programs (no LLVM optimisation, classic emitters)
  step like fully optimised ones; options per compile override the tests'
  own XLA_FLAGS (conftest), so the comparison is real."""
  tiny = {'model.num_layers': 2, 'model.hidden_dim': 16, 'model.embed_dim': 16,
          'model.num_heads': 2, 'model.mlp_dim': 32, 'train.seq_len': 8,
          'train.batch_size': 4, 'train.fast_compile': True,
          # SGD: Adam would blow rounding noise in exactly-zero gradients (the
          # key bias's: softmax ignores a constant shift) up to full-size steps.
          'optim.name': 'sgd'}
  program, source, _ = bench.build_program(base_config(), tiny, bench.lr_sweep(2))
  optimised = jax.jit(
      program_lib.over_lanes(program.fns.train_step, 2, program.lane_mode),
      compiler_options={'xla_backend_optimization_level': 3,
                        'xla_cpu_use_fusion_emitters': True})
  state = program.init(program.hp, program.put_batch(source.train_batch(0)))
  state['init_loss'] += np.log(source.vocab_size)  # as measured: no lane counts as diverged
  states = {'fast': state, 'optimised': jax.tree.map(jnp.copy, state)}
  for step in range(3):
    batch = program.put_batch(source.train_batch(step))
    states['fast'], fast = program.train_step(states['fast'], program.hp, batch)
    states['optimised'], opt = optimised(states['optimised'], program.hp, batch)
    np.testing.assert_allclose(fast['train_loss'], opt['train_loss'], rtol=1e-5)
    np.testing.assert_allclose(fast['grad_norm'], opt['grad_norm'], rtol=1e-5)
  assert (states['fast']['diverged_step'] < 0).all()
  for fast, opt in zip(jax.tree.leaves(states['fast']['params']),
                       jax.tree.leaves(states['optimised']['params'])):
    np.testing.assert_allclose(fast, opt, rtol=1e-5, atol=1e-6)


def test_one_lane_map_is_the_plain_step():
  """A one-lane 'map' runs the step without the lane loop; it must step like
  the vmapped lane (an independent lifting of the same function)."""
  tiny = {'model.num_layers': 2, 'model.hidden_dim': 16, 'model.embed_dim': 16,
          'model.num_heads': 2, 'model.mlp_dim': 32, 'train.seq_len': 8,
          'train.batch_size': 4, 'optim.name': 'sgd'}
  program, source, _ = bench.build_program(base_config(), tiny, bench.lr_sweep(1))
  batch = program.put_batch(source.train_batch(0))
  state = program.init(program.hp, batch)
  state['init_loss'] += np.log(source.vocab_size)
  outs = {mode: jax.jit(program_lib.over_lanes(program.fns.train_step, 2, mode))(
      jax.tree.map(jnp.copy, state), program.hp, batch) for mode in ('map', 'vmap')}
  for mapped, vmapped in zip(jax.tree.leaves(outs['map']), jax.tree.leaves(outs['vmap'])):
    assert mapped.shape == vmapped.shape and mapped.shape[:1] == (1,)
    np.testing.assert_allclose(mapped, vmapped, rtol=1e-6, atol=1e-7)
