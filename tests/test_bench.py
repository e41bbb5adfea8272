"""lnexp.bench: a quick run reports every field; the FLOP formula vs hand counts."""
import json
import math
import os
import statistics
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest

from lnexp import config as config_lib
from lnexp.measure import flops
from lnexp.models.model import AlbertGPT, ModelConfig, matmul_params_per_token
from lnexp.models.norms import NORMS
from lnexp.models.placements import PLACEMENTS
from lnexp.ops import bench


def _positive(*values):
  return all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in values)


# Run in a child bench, concurrently with the in-process sections: first_step
# spawns `lnexp.run` anyway, and compile clears jax's caches.
CHILD_SECTIONS = ('compile', 'first_step')


# Not in a lent GPU machine's Python (jax, flax, optax only; the pure-Python
# ml-collections, absl and tensorboardX wheels are carried there): the bench,
# the model and lnexp.run run without it.
ABSENT_ON_ACCELERATOR_IMAGES = ('tensorflow_datasets',)


def _without(tmp_path, modules) -> dict:
  """Environment in which importing any of `modules` raises ImportError (a
  sitecustomize on PYTHONPATH, inherited by children and re-executions)."""
  site = tmp_path / 'site'
  site.mkdir(parents=True)
  (site / 'sitecustomize.py').write_text(
      f'import sys\nsys.modules.update(dict.fromkeys({list(modules)!r}))\n')
  return {**os.environ, 'PYTHONPATH': os.pathsep.join(
      [str(site), bench.ROOT, os.environ.get('PYTHONPATH', '')]).rstrip(os.pathsep)}


def test_modules_are_absent_in_that_environment(tmp_path):
  probe = ('import importlib\nfor m in %r:\n  try:\n    importlib.import_module(m)\n'
           '  except ImportError:\n    print(m)' % (ABSENT_ON_ACCELERATOR_IMAGES,))
  absent = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                          env=_without(tmp_path, ABSENT_ON_ACCELERATOR_IMAGES), check=True)
  assert absent.stdout.split() == list(ABSENT_ON_ACCELERATOR_IMAGES)
  present = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                           check=True)
  assert present.stdout.split() == []  # installed here: the blocking is what removes them


def _quick_run(tmp_path):
  """`python -m lnexp.bench --quick --json OUT` as parsed JSON, split in two.

  CHILD_SECTIONS run in a child bench, in an environment without the packages
  a lent accelerator's Python lacks, while the others run in-process (on two
  cores the halves overlap); the two JSONs are merged.
  """
  child_json, main_json = tmp_path / 'child.json', tmp_path / 'bench.json'
  child = subprocess.Popen(
      [sys.executable, '-m', 'lnexp.bench', '--quick', '--sections',
       ','.join(CHILD_SECTIONS), '--json', str(child_json)], cwd=bench.ROOT,
      env=_without(tmp_path, ABSENT_ON_ACCELERATOR_IMAGES),
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  try:
    in_process = [name for name in bench.SECTIONS if name not in CHILD_SECTIONS]
    assert bench.main(['--quick', '--sections', ','.join(in_process),
                       '--json', str(main_json)]) == 0
  finally:
    log, _ = child.communicate(timeout=300)
  assert child.returncode == 0, log[-2000:]
  with open(main_json) as f:
    results = json.load(f, parse_constant=pytest.fail)
  with open(child_json) as f:
    child_results = json.load(f, parse_constant=pytest.fail)
  return {**results, **{name: child_results[name] for name in CHILD_SECTIONS},
          'child_machine': child_results['machine']}


def test_quick_run_reports_every_field(tmp_path):
  """One test (not a module fixture) so pytest -n 2 runs the bench once."""
  quick = _quick_run(tmp_path)
  assert quick['quick'] is True
  for key in ('jax_version', 'backend', 'device_kind', 'cpu_count', 'cpu_model', 'date'):
    assert quick['machine'][key]
  # `python -m lnexp.bench` re-ran itself with huge pages (lnexp.host_memory)
  assert 'glibc.malloc.hugetlb=1' in quick['child_machine']['glibc_tunables'].split(':')
  for name in bench.SECTIONS:
    assert 'error' not in quick[name], quick[name]
    assert _positive(quick[name]['section_s'])

  peak, step = quick['peak'], quick['step']
  assert _positive(peak['float32_gflops'])
  assert ('bfloat16_gflops' in peak) == (quick['machine']['backend'] in ('gpu', 'tpu'))
  assert 'B*T' in step['flops_formula'] and _positive(step['flops_per_step_per_lane'])
  assert [r['lanes'] for r in step['runs']] == [1, 2]
  for r in step['runs']:
    assert _positive(r['step_s'], r['tokens_per_s'], r['model_gflops'], r['mfu'])
    assert r['page_faults_per_step'] >= 0
    assert math.isclose(r['model_gflops'] / step['peak_gflops'], r['mfu_vs_best_peak'])
    # each round of steps against the peak measured right after it
    assert len(r['round_step_s']) == len(r['round_peak_gflops']) == 2
    assert math.isclose(r['mfu'], statistics.median(
        r['flops_per_step_per_lane'] * r['lanes'] / t / 1e9 / p
        for t, p in zip(r['round_step_s'], r['round_peak_gflops'])))
    assert r['step_s'] == statistics.median(r['round_step_s'])
  assert step['peak_dtype'] == 'float32' and step['peak_gflops_before'] == peak['float32_gflops']
  assert step['peak_gflops'] == max(step['peak_gflops_before'], step['peak_gflops_after'],
                                    *step['runs'][0]['round_peak_gflops'])
  ratio = step['runs'][1]['over_sequential']  # median of same-round ratios
  assert step['lanes_over_sequential'] == ratio and _positive(ratio)
  assert step['runs'][0]['over_sequential'] == 1.0
  assert step['never_worse_than_sequential'] == (ratio <= 1.0)

  norms = {r['method']: r for r in quick['norms']['runs']}
  assert list(norms) == ['layernorm-pre', 'rmsnorm-pre', 'peri']
  assert norms['layernorm-pre']['over_layernorm_pre'] == 1.0
  assert norms['peri']['model.placement'] == 'peri' and _positive(
      norms['peri']['step_s'], norms['rmsnorm-pre']['over_layernorm_pre'])
  # The full section covers every registered token norm and placement.
  assert {f'{n}-pre' for n, v in NORMS.items() if v.tokens} | (set(PLACEMENTS) - {'pre'}) \
      == set(bench.norm_methods())
  assert bench.norm_methods()['ngpt']['model.norm'] == 'none'

  comp = quick['compile']
  assert [r['depth'] for r in comp['runs']] == [2, 8]
  for r in comp['runs']:
    assert _positive(r['init_compile_s'], r['init_run_s'], r['step_lower_s'],
                     r['step_compile_s'], r['total_s'])
  assert _positive(comp['deep_over_shallow'])

  for model in ('default', 'claims'):
    runs = quick['lanes'][model]
    assert [r['lanes'] for r in runs] == [1, 2]
    assert all(_positive(r['step_s'], r['tokens_per_s'], r['over_sequential'])
               for r in runs)
    assert runs[0]['over_sequential'] == 1.0

  hosts = quick['host_devices']  # a child with one CPU host device per core
  assert hosts['devices'] >= 2 and [r['lanes'] for r in hosts['claims']] == [1, 2]
  assert math.isclose(hosts['reference_one_device_over_host_devices'],
                      step['runs'][0]['step_s'] / hosts['reference']['step_s'])
  ref = hosts['reference']
  assert math.isclose(ref['mfu_vs_best_peak'], ref['flops_per_step_per_lane']
                      / ref['step_s'] / 1e9 / step['peak_gflops'])
  for r, alone in zip(hosts['claims'], quick['lanes']['claims']):
    assert math.isclose(r['over_one_device_sequential'],
                        r['step_s'] / (r['lanes'] * quick['lanes']['claims'][0]['step_s']))
    # lanes mapped per host device compute what one device computes
    assert r['first_train_loss'] == pytest.approx(alone['first_train_loss'], rel=1e-5)
    assert r['first_grad_norm'] == pytest.approx(alone['first_grad_norm'], rel=1e-5)

  procs = quick['processes']  # --quick measures the pinned processes lnexp.claims uses
  rates = procs['pinned_steps_per_s']
  assert procs['processes'] >= 2 and len(rates) == procs['processes']
  assert _positive(procs['one_process_steps_per_s'], procs['pinned_over_one'], *rates)
  assert math.isclose(procs['pinned_over_one'], sum(rates) / procs['one_process_steps_per_s'])
  assert procs['one_process_steps_per_s'] == max(procs['one_process_before_after'])

  diag = quick['diagnostics']
  assert _positive(diag['plain_step_s'], diag['cadence_10_step_s'], diag['cadence_1_step_s'])
  assert math.isclose(diag['overhead_cadence_10'],
                      diag['cadence_10_step_s'] / diag['plain_step_s'] - 1)

  first = quick['first_step']
  assert _positive(first['wall_s'], first['run_reported_s'])
  assert first['run_reported_s'] <= first['wall_s']


def test_a_failing_section_is_recorded_and_the_others_still_run(monkeypatch, tmp_path):
  def boom(quick, done):
    raise ValueError('no luck')
  monkeypatch.setitem(bench.SECTIONS, 'boom', boom)
  monkeypatch.setitem(bench.SECTIONS, 'fine', lambda quick, done: {'x': 1.0})
  out = tmp_path / 'bench.json'
  assert bench.main(['--quick', '--sections', 'boom,fine', '--json', str(out)]) == 1
  results = json.load(open(out))
  assert results['boom']['error'] == 'ValueError: no luck'
  assert results['fine']['x'] == 1.0
  assert bench.main(['--sections', 'peak,nope']) == 2


# ------------------------------------------------------------ FLOP formula

L, H, MLP, V, T, B = 2, 8, 16, 11, 4, 2


def _cfg(embed_dim, tied, **model):
  overrides = {'model.num_layers': L, 'model.hidden_dim': H, 'model.embed_dim': embed_dim,
               'model.num_heads': 2, 'model.mlp_dim': MLP, 'model.vocab_size': V,
               'model.tie_embeddings': tied, 'train.seq_len': T, 'train.batch_size': B,
               **{f'model.{k}': v for k, v in model.items()}}
  return config_lib.apply_overrides(config_lib.base_config(), overrides)


# Per layer: qkv 8x24 = 192, out 8x8 = 64, up 8x16 = 128, down 16x8 = 128.
BLOCKS = 2 * (192 + 64 + 128 + 128)


@pytest.mark.parametrize('embed_dim, tied, matmul_params', [
    (8, True, BLOCKS + 8 * 11),              # logits through the 8x11 embedding
    (4, True, BLOCKS + 4 * 8 + 8 * 4 + 4 * 11),  # E->H in, H->E out, E x V tied
    (8, False, BLOCKS + 8 * 11),             # H x V unembedding
    (4, False, BLOCKS + 4 * 8 + 8 * 11),     # E->H in, H x V out
])
def test_flops_per_step_matches_a_hand_count(embed_dim, tied, matmul_params):
  # 6 per matmul weight per token (2 forward, 4 backward); attention per layer:
  # QK^T and AV are 2*H*T FLOPs each forward, x3 with the backward: 12*H*T.
  per_token = 6 * matmul_params + 12 * L * H * T
  cfg = _cfg(embed_dim, tied)
  assert matmul_params_per_token(cfg) == matmul_params
  assert flops.flops_per_step(cfg) == float(B * T * per_token)


@pytest.mark.parametrize('embed_dim, tied',
                         [(8, True), (4, True), (8, False), (4, False)])
def test_matmul_params_match_the_model_s_weight_matrices(embed_dim, tied):
  """Kernels of the real (unshared, so depth-stacked) model, shapes only."""
  cfg = _cfg(embed_dim, tied, share='none')
  tokens = jnp.ones((B, T), jnp.int32)
  shapes = jax.eval_shape(
      lambda rng: AlbertGPT(ModelConfig.from_config(cfg)).init(rng, tokens, tokens,
                                                               tokens, False),
      jax.random.key(0))['params']
  sizes = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(shapes)[0]:
    name = path[-1].key
    sizes[name] = sizes.get(name, 0) + math.prod(leaf.shape)
  proj = sizes.get('embed_proj', 0)
  expected = sizes['kernel'] + (2 * proj + sizes['token_embed'] if tied else proj)
  assert matmul_params_per_token(cfg) == expected


def test_first_step_metrics_are_those_of_one_plain_first_step():
  overrides = {**bench.REFERENCE, **bench.QUICK}
  timed, = bench.time_groups(config_lib.base_config(), overrides, (1,), quick=True)
  program, source, _ = bench.build_program(config_lib.base_config(), overrides,
                                           bench.lr_sweep(1))
  batch = program.put_batch(source.train_batch(0))
  _, metrics = program.train_step(program.init(program.hp, batch), program.hp, batch)
  assert timed['first_train_loss'] == float(metrics['train_loss'][0])
  assert timed['first_grad_norm'] == float(metrics['grad_norm'][0])
