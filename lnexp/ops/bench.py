"""`python -m lnexp.bench [--quick] [--json OUT] [--sections a,b,...]`.

Measures how fast this machine runs lnexp through the real code path (plan,
Program, init, train_step), so the planner's FLOP rate and the lanes' promise
(K lanes never slower than K points in turn) are checked (docs/performance.md).
A failing section records its error and the others run; `--json` is rewritten
after every section. `--quick`: tiny sizes, seconds (the tests).
"""
from __future__ import annotations

import datetime
import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from lnexp import config as config_lib
from lnexp.data import make_source
from lnexp.errors import ConfigError
from lnexp.measure import flops
from lnexp.models.norms import NORMS
from lnexp.models.placements import PLACEMENTS
from lnexp.runtime import host_memory, processes
from lnexp.runtime import plan as plan_lib
from lnexp.train import program as program_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_CONFIG = os.path.join(ROOT, 'configs', 'default.py')

# The reference model: pre-LN GPT (no sharing), byte vocabulary (253 synthetic
# symbols + PAD/BOS/EOS = 256), AdamW.
REFERENCE = {
    'model.num_layers': 4, 'model.hidden_dim': 128, 'model.embed_dim': 128,
    'model.num_heads': 4, 'model.mlp_dim': 512, 'model.norm': 'layernorm',
    'model.placement': 'pre', 'model.share': 'none', 'optim.name': 'adamw',
    'train.seq_len': 128, 'train.batch_size': 32, 'data.num_symbols': 253}
# The claims suite's small model, where per-step overhead matters more.
CLAIMS = {'model.num_layers': 2, 'model.hidden_dim': 64, 'model.embed_dim': 64,
          'model.mlp_dim': 256, 'train.seq_len': 64, 'train.batch_size': 16}
# The step section's model on GPU/TPU: one that fills the chip, bfloat16
# activations (norm statistics, params and optimizer float32).
ACCELERATOR = {'model.num_layers': 12, 'model.hidden_dim': 1024,
               'model.embed_dim': 1024, 'model.num_heads': 16, 'model.mlp_dim': 4096,
               'train.seq_len': 1024, 'train.batch_size': 16, 'model.dtype': 'bfloat16'}
# --quick: every model shrunk to this (compiles and steps in about a second).
QUICK = {'model.num_layers': 2, 'model.hidden_dim': 32, 'model.embed_dim': 32,
         'model.num_heads': 2, 'model.mlp_dim': 64, 'train.seq_len': 16,
         'train.batch_size': 4}

FLOPS_FORMULA = (
    'flops/step/lane = B*T * (6*P + 12*L*H*T), P = L*(4*H^2 + 2*H*MLP) '
    '+ [E!=H] E*H + (tied: [E!=H] H*E + E*V | untied: H*V)  (lnexp.measure.flops)')


def _sized(quick: bool, full: dict) -> dict:
  """A section's model: `full`, or with --quick the reference model shrunk to QUICK."""
  return {**REFERENCE, **QUICK} if quick else full


# ------------------------------------------------------------- measurement


def matmul_gflops(n: int, dtype, repeats: int) -> float:
  """Best-of-repeats GFLOP/s of a jitted n x n x n `jnp.dot` (2 n^3 FLOPs)."""
  key_a, key_b = jax.random.split(jax.random.key(n))
  a_NxN = jax.random.normal(key_a, (n, n), dtype)
  b_NxN = jax.random.normal(key_b, (n, n), dtype)
  dot = jax.jit(jnp.dot)
  dot(a_NxN, b_NxN).block_until_ready()
  best = math.inf
  for _ in range(repeats):
    t0 = time.perf_counter()
    dot(a_NxN, b_NxN).block_until_ready()
    best = min(best, time.perf_counter() - t0)
  return 2 * n ** 3 / best / 1e9


def model_gflops(run: dict, step_s: float) -> float:
  """Model GFLOP/s of a `time_groups` run (all its lanes) at `step_s` a step."""
  return run['flops_per_step_per_lane'] * run['lanes'] / step_s / 1e9


def build_program(base, overrides: dict, sweep: list[dict]):
  """(Program, source, group config) of the one group `sweep` makes over base."""
  cfg = config_lib.apply_overrides(base, overrides)
  groups = plan_lib.make_groups(plan_lib.make_points(cfg, sweep))
  if len(groups) != 1:
    raise RuntimeError(f'sweep made {len(groups)} groups, expected 1')
  cfg = groups[0].config
  source = make_source(cfg)
  cfg.model.vocab_size = source.vocab_size
  return program_lib.Program(groups[0], cfg), source, cfg


def lr_sweep(lanes: int) -> list[dict]:
  """`lanes` distinct learning rates: one group of `lanes` lanes."""
  return [{'optim.lr': float(lr)} for lr in np.geomspace(1e-3, 1e-2, lanes)]


class _Group:
  """One compiled group stepping on two batches on device; `init_loss` is
  ln(V), as the loop would measure it, so no lane counts as diverged."""

  def __init__(self, base, overrides: dict, lanes: int):
    self.program, self.source, self.cfg = build_program(base, overrides, lr_sweep(lanes))
    self.lanes = lanes
    self.batches = [self.program.put_batch(self.source.train_batch(i)) for i in range(2)]
    state = self.program.init(self.program.hp, self.batches[0])
    init_loss_L = np.full(state['init_loss'].shape, math.log(self.source.vocab_size),
                          np.float32)
    self.state = {**state, 'init_loss': jax.device_put(init_loss_L,
                                                       self.program.lane_sharding)}
    self.steps = 0

  def step(self) -> dict:
    """One blocking train step; its metrics."""
    self.state, metrics = self.program.train_step(
        self.state, self.program.hp, self.batches[self.steps % 2])
    jax.block_until_ready((self.state, metrics))
    self.steps += 1
    return metrics

  def seconds_per_step(self, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
      self.step()
    return (time.perf_counter() - t0) / steps


def _rounds(groups: list[_Group], quick: bool, after_round=None):
  """Per group: step seconds in each of interleaved rounds of ~0.3 s of steps (a
  shared VM's speed drifts within minutes), steps per round, minor page faults."""
  round_s = 0.05 if quick else 0.3
  steps = [max(1, round(round_s / g.seconds_per_step(1))) for g in groups]  # warm-up
  times = [[] for _ in groups]
  faults = [0] * len(groups)
  for _ in range(2 if quick else 5):
    for i, g in enumerate(groups):
      f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
      times[i].append(g.seconds_per_step(steps[i]))
      faults[i] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    if after_round:
      after_round()
  return times, steps, faults


def time_groups(base, overrides: dict, lane_counts: tuple[int, ...],
                quick: bool, after_round=None) -> list[dict]:
  """Steady-state step seconds of one group per lane count (`_rounds`), with
  `over_sequential` (median of t_K / ((K / K_first) t_first)), page faults per
  step and lane 0's first-step loss and gradient norm."""
  groups = [_Group(base, overrides, k) for k in lane_counts]
  firsts = [{k: float(v[0]) for k, v in g.step().items() if k in ('train_loss', 'grad_norm')}
            for g in groups]
  times, steps, faults = _rounds(groups, quick, after_round)
  out = []
  for i, g in enumerate(groups):
    step_s = statistics.median(times[i])
    tokens = g.cfg.train.batch_size * g.cfg.train.seq_len
    scale = g.lanes / groups[0].lanes
    out.append({'lanes': g.lanes, 'step_s': step_s, 'tokens_per_s': g.lanes * tokens / step_s,
                'flops_per_step_per_lane': flops.flops_per_step(g.cfg),
                'over_sequential': statistics.median(
                    t / (scale * t0) for t, t0 in zip(times[i], times[0])),
                'round_step_s': times[i],
                'page_faults_per_step': faults[i] / (len(times[i]) * steps[i]),
                **{f'first_{k}': v for k, v in firsts[i].items()}})
  return out


def compile_seconds(overrides: dict) -> dict:
  """Seconds from nothing to a compiled train step: init (lower, compile,
  run) and train step (lower = trace + MLIR, compile), all caches cleared."""
  jax.clear_caches()
  program, source, cfg = build_program(config_lib.base_config(), overrides, lr_sweep(1))
  batch = program.put_batch(source.train_batch(0))
  t0 = time.perf_counter()
  init = program.init.lower(program.hp, batch).compile()
  t1 = time.perf_counter()
  state = jax.block_until_ready(init(program.hp, batch))
  t2 = time.perf_counter()
  lowered = program.train_step.lower(state, program.hp, batch)
  t3 = time.perf_counter()
  lowered.compile()
  t4 = time.perf_counter()
  return {'depth': cfg.model.num_layers, 'init_compile_s': t1 - t0,
          'init_run_s': t2 - t1, 'step_lower_s': t3 - t2, 'step_compile_s': t4 - t3,
          'total_s': t4 - t0}


# ---------------------------------------------------------------- sections


def accelerated() -> bool:
  return jax.default_backend() in ('gpu', 'tpu')


def bench_peak(quick: bool, done: dict) -> dict:
  """Practical matmul peak: best GFLOP/s over a few square sizes, at default
  precision as the model uses (bfloat16 only on gpu/tpu)."""
  on_accelerator = accelerated()
  sizes = (128, 256) if quick else (512, 1024, 2048)
  if on_accelerator and not quick:
    sizes += (4096, 8192)
  dtypes = (jnp.float32, jnp.bfloat16) if on_accelerator else (jnp.float32,)
  repeats = 3 if quick else 5
  rows = [{'dtype': jnp.dtype(d).name, 'n': n, 'gflops': matmul_gflops(n, d, repeats)}
          for d in dtypes for n in sizes]
  out = {'float32_gflops': max(r['gflops'] for r in rows if r['dtype'] == 'float32')}
  if on_accelerator:
    out['bfloat16_gflops'] = max(r['gflops'] for r in rows if r['dtype'] == 'bfloat16')
  return {**out, 'precision': 'default', 'sizes': rows}


def bench_step(quick: bool, done: dict) -> dict:
  """Reference model: step time, tokens/s, model FLOP/s and MFU, 1 vs 8 lanes;
  on GPU/TPU the ACCELERATOR model, 1 vs 2 lanes (on GPU with cuDNN attention,
  and once with einsum attention to compare)."""
  big = accelerated() and not quick
  cudnn = big and jax.default_backend() == 'gpu'
  peak_dtype = 'bfloat16' if big else 'float32'
  best_size = max((r for r in (done.get('peak') or bench_peak(quick, done))['sizes']
                   if r['dtype'] == peak_dtype), key=lambda r: r['gflops'])
  peak_before, probe_n = best_size['gflops'], best_size['n']
  overrides = {**_sized(quick, REFERENCE), **(ACCELERATOR if big else {}),
               **({'model.attention': 'cudnn'} if cudnn else {})}
  many = 2 if quick or big else 8

  def timed(lane_counts, **changes):
    """Runs with `mfu` against the peak measured after each round of steps."""
    peaks = []
    runs = time_groups(config_lib.base_config(), {**overrides, **changes}, lane_counts,
                       quick, lambda: peaks.append(matmul_gflops(probe_n, peak_dtype, 3)))
    for r in runs:
      r['round_peak_gflops'] = peaks
      r['mfu'] = statistics.median(model_gflops(r, t) / p
                                   for t, p in zip(r['round_step_s'], peaks))
    return runs
  runs = timed((1, many))
  ratio = runs[1]['over_sequential']
  out = {'config': overrides, 'flops_formula': FLOPS_FORMULA,
         'flops_per_step_per_lane': runs[0]['flops_per_step_per_lane'],
         'runs': runs, 'lanes_over_sequential': ratio,
         'never_worse_than_sequential': ratio <= 1.0}
  if cudnn:  # the einsum attention for comparison: speed, and the same first step
    xla, = timed((1,), **{'model.attention': 'xla'})
    out['xla_attention_run'] = xla
    runs = runs + [xla]
    for k in ('train_loss', 'grad_norm'):
      out[f'cudnn_vs_xla_first_{k}_rel'] = abs(
          runs[0][f'first_{k}'] / xla[f'first_{k}'] - 1)
  # `mfu` pairs each round with the peak read after it; `mfu_vs_best_peak` is
  # against the section's best peak reading (docs/performance.md).
  peak_after = bench_peak(quick, {})[f'{peak_dtype}_gflops']
  peak = max(peak_before, peak_after, *(p for r in runs for p in r['round_peak_gflops']))
  for r in runs:
    r['model_gflops'] = model_gflops(r, r['step_s'])
    r['mfu_vs_best_peak'] = r['model_gflops'] / peak
  return {**out, 'peak_dtype': peak_dtype, 'peak_gflops': peak,
          'peak_gflops_before': peak_before, 'peak_gflops_after': peak_after}


def bench_compile(quick: bool, done: dict) -> dict:
  """Compile time at two depths with share=all: scan keeps it flat in depth."""
  depths = (2, 8) if quick else (4, 48)
  base = {**_sized(quick, REFERENCE), 'model.share': 'all'}
  runs = [compile_seconds({**base, 'model.num_layers': d}) for d in depths]
  ratio = runs[1]['total_s'] / runs[0]['total_s']
  return {'config': base, 'runs': runs, 'deep_over_shallow': ratio, 'target': 1.5,
          'within_target': ratio <= 1.5}


def bench_lanes(quick: bool, done: dict) -> dict:
  """Step time of K lanes over K x one lane, default and claims-size models."""
  ks = (1, 2) if quick else (1, 2, 4, 8, 16)
  base = config_lib.load_config_file(DEFAULT_CONFIG).base
  # --quick: the step section's tiny model for both, its compiled programs reused.
  models = {'default': _sized(quick, {}), 'claims': _sized(quick, CLAIMS)}
  out = {}
  for name, overrides in models.items():
    out[name] = time_groups(base, overrides, ks, quick)
    out[f'{name}_config'] = overrides
  return out


def _host_device_runs(quick: bool) -> dict:
  """In a child with several CPU host devices: the reference model's one-lane
  step and claims-size groups of K lanes."""
  ks = (1, 2) if quick else (1, 2, 4, 8, 16)
  base = config_lib.load_config_file(DEFAULT_CONFIG).base
  return {'devices': jax.device_count(),
          'reference': time_groups(config_lib.base_config(), _sized(quick, REFERENCE), (1,),
                                   quick)[0],
          'claims': time_groups(base, _sized(quick, CLAIMS), ks, quick)}


def bench_host_devices(quick: bool, done: dict) -> dict:
  """The step and lanes sections with one CPU host device per core (in a child:
  JAX fixes its device count at start), against this process's one device."""
  if accelerated():
    return {'skipped': 'host devices are a CPU setting'}
  n = max(2, len(processes.usable_cores()))
  code = ('import json, sys; from lnexp import run; from lnexp.ops import bench; '
          'from lnexp.runtime import host_memory; '
          'run.set_host_devices(int(sys.argv[1])); host_memory.use_calling_thread(); '
          'print(json.dumps(bench._host_device_runs(sys.argv[2] == "quick")))')
  proc = subprocess.run([sys.executable, '-c', code, str(n), 'quick' if quick else 'full'],
                        cwd=ROOT, capture_output=True, text=True, timeout=900)
  if proc.returncode:
    raise RuntimeError(f'host-device child failed: {proc.stderr.strip()[-500:]}')
  out = {'host_devices': n, **json.loads(proc.stdout.strip().splitlines()[-1])}
  ref, claims = out['reference'], out['claims']
  peak = done.get('step', {}).get('peak_gflops') or done.get('peak', {}).get('float32_gflops')
  if peak:
    ref['mfu_vs_best_peak'] = model_gflops(ref, ref['step_s']) / peak
  one_device = done.get('step', {}).get('runs', [{}])[0].get('step_s')
  if one_device:
    out['reference_one_device_over_host_devices'] = one_device / ref['step_s']
  one_lane = done.get('lanes', {}).get('claims', [{}])[0].get('step_s')
  for r in claims:
    if one_lane:
      r['over_one_device_sequential'] = r['step_s'] / (r['lanes'] * one_lane)
  return out


def _steps_in_window(overrides: dict, window_s: float, barrier: str | None) -> dict:
  """Steps of one claims-size lane in `window_s`, after compiling and (with a
  `barrier` directory) after every process of the run has compiled."""
  group = _Group(config_lib.base_config(), overrides, 1)
  group.step()
  if barrier:
    open(os.path.join(barrier, str(os.getpid())), 'w').close()
    count = int(open(os.path.join(barrier, 'count')).read())
    while len(os.listdir(barrier)) < count + 1:
      time.sleep(0.01)
  steps, t0 = 0, time.perf_counter()
  while time.perf_counter() - t0 < window_s:
    group.step()
    steps += 1
  return {'steps': steps, 'seconds': time.perf_counter() - t0}


def bench_processes(quick: bool, done: dict) -> dict:
  """Claims-size steps per second: this process against one single-threaded
  process per core, pinned (and unpinned, but --quick); this process's rate is
  the faster of before and after them (the VM drifts)."""
  if accelerated():
    return {'skipped': 'one process per CPU core: a CPU-only comparison'}
  overrides = _sized(quick, CLAIMS)
  window_s = 1.0 if quick else 10.0
  one = _steps_in_window(overrides, window_s, None)
  jobs = max(2, len(processes.usable_cores()))
  code = ('import json, sys; from lnexp.ops import bench; from lnexp.runtime import host_memory; '
          'host_memory.use_calling_thread(); print(json.dumps('
          'bench._steps_in_window(json.loads(sys.argv[1]), float(sys.argv[2]), sys.argv[3])))')

  def side_by_side(pin: bool) -> list[float]:
    with tempfile.TemporaryDirectory() as barrier:
      with open(os.path.join(barrier, 'count'), 'w') as f:
        f.write(str(jobs))
      procs = [subprocess.Popen([sys.executable, '-c', code, json.dumps(overrides),
                                  str(window_s), barrier], env=processes.single_thread_env(),
                                cwd=ROOT, stdout=subprocess.PIPE, text=True)
               for _ in range(jobs)]
      for i, p in enumerate(procs if pin else ()):
        processes.pin_to_core(p.pid, i)
      outs = [p.communicate(timeout=900)[0] for p in procs]
    if any(p.returncode for p in procs):
      raise RuntimeError(f'a single-threaded process failed: {outs}')
    return [r['steps'] / r['seconds']
            for r in (json.loads(o.strip().splitlines()[-1]) for o in outs)]
  kinds = ('pinned',) if quick else ('pinned', 'unpinned')  # --quick: the one used
  side_rates = {kind: side_by_side(kind == 'pinned') for kind in kinds}
  one_rates = [r['steps'] / r['seconds']
               for r in (one, _steps_in_window(overrides, window_s, None))]
  out = {'config': overrides, 'one_process_steps_per_s': max(one_rates),
         'one_process_before_after': one_rates, 'processes': jobs}
  for kind, rates in side_rates.items():
    out.update({f'{kind}_steps_per_s': rates, f'{kind}_over_one': sum(rates) / max(one_rates)})
  return out


def bench_first_step(quick: bool, done: dict) -> dict:
  """Wall time of one step of `lnexp.run --config configs/default.py`, process
  start to exit: a bound on the time to the first logged step."""
  flags = ['--config.train.steps=1', '--config.train.log_every=1',
           '--config.train.eval_every=1', '--config.train.eval_batches=1']
  if quick:
    flags += [f'--config.{k}={v}' for k, v in QUICK.items()]
  with tempfile.TemporaryDirectory() as workdir:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, '-m', 'lnexp.run', '--config', DEFAULT_CONFIG,
                           '--workdir', workdir, *flags], cwd=ROOT,  # -m: imports from cwd
                          capture_output=True, text=True, timeout=900)
    wall_s = time.perf_counter() - t0
  if proc.returncode:
    raise RuntimeError(f'lnexp.run exited {proc.returncode}: '
                       f'{(proc.stderr or proc.stdout).strip()[-500:]}')
  reported = re.search(r'done in ([0-9.]+)s', proc.stdout)
  return {'wall_s': wall_s,
          'run_reported_s': float(reported.group(1)) if reported else math.nan,
          'flags': ' '.join(flags),
          'note': 'process start to exit; bounds the time to the first logged step'}


def bench_default_text(quick: bool, done: dict) -> dict:
  """configs/default.py on real text (python_docs), 3 seeds: mean final eval loss
  over the eval split's byte-unigram entropy (learning real text: <= 0.85)."""
  from lnexp.train.sweep import train_and_evaluate
  if quick:
    return {'skipped': 'full bench only (3 seeds x the default run length)'}
  seeds, flags = (0, 1, 2), {'data.source': 'python_docs'}
  with tempfile.TemporaryDirectory() as workdir:
    spec = os.path.join(workdir, 'default_text.py')
    with open(spec, 'w') as f:
      f.write(f'from lnexp.config import load_config_file\n'
              f'def get_config():\n  return load_config_file({DEFAULT_CONFIG!r}).base\n'
              f'def get_sweep():\n  return [{{"train.seed": s, "data.seed": s}} for s in '
              f'{seeds!r}]\n')
    rows = train_and_evaluate(spec, flags, os.path.join(workdir, 'w'), out=open(os.devnull, 'w'))
  ratios = [r['final_eval_loss'] / r['unigram_entropy'] for r in rows]
  return {'final_eval_loss': [r['final_eval_loss'] for r in rows],
          'loss_over_unigram': ratios, 'mean_loss_over_unigram': float(np.mean(ratios)),
          'target': 0.85}


def bench_diagnostics(quick: bool, done: dict) -> dict:
  """Step-time overhead of in-step diagnostics at cadence 1 and 10 (default
  model), timed as the loop runs them, against plain steps only."""
  base = config_lib.load_config_file(DEFAULT_CONFIG).base
  group = _Group(base, _sized(quick, {}), 1)
  program, state, batch = group.program, group.state, group.batches[0]
  probe = program.put_batch(group.source.eval_batch(0))
  steps = 10 if quick else 20

  def run(cadence):
    nonlocal state
    t0 = time.perf_counter()
    for i in range(1, steps + 1):
      if cadence and i % cadence == 0:
        state, metrics = program.diag_step(state, program.hp, batch)
        metrics = (metrics, program.probe_stats(state, probe))
      else:
        state, metrics = program.train_step(state, program.hp, batch)
    jax.block_until_ready((state, metrics))
    return (time.perf_counter() - t0) / steps

  for cadence in (0, 1):  # compile both programs first
    run(cadence)
  rounds = [{c: run(c) for c in (0, 10, 1)} for _ in range(3)]  # interleaved: fair
  per_step = {c: min(r[c] for r in rounds) for c in (0, 10, 1)}
  return {'steps': steps, 'plain_step_s': per_step[0],
          'cadence_10_step_s': per_step[10], 'cadence_1_step_s': per_step[1],
          'overhead_cadence_10': per_step[10] / per_step[0] - 1,
          'overhead_cadence_1': per_step[1] / per_step[0] - 1, 'target_cadence_10': 0.15}


def norm_methods() -> dict[str, dict]:
  """The normalization benchmark's methods (experiments/normbench.py): each
  token norm pre, each other placement with LayerNorm (nGPT: none)."""
  methods = {f'{n}-pre': {'model.norm': n, 'model.placement': 'pre'}
             for n, norm in NORMS.items() if norm.tokens is not None}
  for name, placement in PLACEMENTS.items():
    if name != 'pre':
      methods[name] = {'model.norm': 'none' if placement.hypersphere else 'layernorm',
                       'model.placement': name}
  return methods


def bench_norms(quick: bool, done: dict) -> dict:
  """Train-step time of each normalization method over LayerNorm-pre's, at the
  claims v4 learned size (one lane): each ratio is the median over `_rounds` of
  the two steps timed within the round."""
  from lnexp.claims import sizes
  base = sizes.learned_config('quick' if quick else 'core')
  overrides = QUICK if quick else {}
  methods = norm_methods()
  if quick:  # three, to check the section: every method compiles its own programs
    methods = {k: methods[k] for k in ('layernorm-pre', 'rmsnorm-pre', 'peri')}
  names = list(methods)
  times, _, _ = _rounds([_Group(base, {**overrides, **methods[n]}, 1) for n in names], quick)
  reference = times[names.index('layernorm-pre')]
  return {'config': {**overrides, 'size': 'claims v4 learned size'}, 'runs': [
      {'method': name, **methods[name], 'step_s': statistics.median(t),
       'over_layernorm_pre': statistics.median(x / r for x, r in zip(t, reference))}
      for name, t in zip(names, times)]}


# name -> section(quick, results so far) -> dict of results.
SECTIONS = {
    'peak': bench_peak,
    'step': bench_step,
    'lanes': bench_lanes,
    'processes': bench_processes,
    'host_devices': bench_host_devices,
    'compile': bench_compile,  # clears jax's caches: after sections that share them
    'first_step': bench_first_step,
    'diagnostics': bench_diagnostics,
    'default_text': bench_default_text,
    'norms': bench_norms,
}


# ---------------------------------------------------------------- reporting


def _read(path: str) -> str:
  try:
    with open(path) as f:
      return f.read().strip()
  except OSError:
    return ''


def cpu_model() -> str:
  """The CPU's model name and whether it has AVX-512 (a VM's CPU changes
  between sessions); platform.processor() where /proc/cpuinfo names none."""
  info = _read('/proc/cpuinfo')
  name = re.search(r'^model name\s*:\s*(.*)$', info, re.M)
  flags = re.search(r'^flags\s*:\s*(.*)$', info, re.M)
  if not name:
    return platform.processor()
  avx512 = flags is not None and 'avx512f' in flags.group(1).split()
  return name.group(1).strip() + (' (AVX-512)' if avx512 else '')


def machine_info() -> dict:
  device = jax.devices()[0]
  return {'jax_version': jax.__version__, 'flax_version': flax.__version__,
          'optax_version': optax.__version__, 'backend': jax.default_backend(),
          'device_kind': device.device_kind, 'device_count': jax.device_count(),
          'cpu_count': os.cpu_count(), 'cpu_model': cpu_model(),
          'python': platform.python_version(),
          'platform': platform.platform(), 'xla_flags': os.environ.get('XLA_FLAGS', ''),
          'glibc_tunables': host_memory.tunables_in_effect(),
          'cpu_async_dispatch': jax.config.read('jax_cpu_enable_async_dispatch'),
          'transparent_hugepage': _read('/sys/kernel/mm/transparent_hugepage/enabled'),
          'date': datetime.datetime.now(datetime.timezone.utc).isoformat()}


def _cell(value) -> str:
  if isinstance(value, float):
    return f'{value:.4g}'
  if isinstance(value, dict):
    return ' '.join(f'{k}={_cell(v)}' for k, v in value.items())
  if isinstance(value, list) and all(isinstance(v, float) for v in value):
    return ','.join(f'{v:.3g}' for v in value)
  return str(value)


def print_section(name: str, result: dict, out) -> None:
  """Scalars as `key value` lines, lists of records as column tables."""
  print(f'== {name}', file=out)
  for key, value in result.items():
    if isinstance(value, list) and value and isinstance(value[0], dict):
      head = list(value[0])
      lines = [head] + [[_cell(r.get(k)) for k in head] for r in value]
      widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
      print(f'  {key}:', file=out)
      for line in lines:
        print('    ' + '  '.join(c.rjust(w) for c, w in zip(line, widths)), file=out)
    else:
      print(f'  {key:<30} {_cell(value)}', file=out)
  out.flush()


def run_bench(names: list[str], quick: bool, json_path: str | None = None,
              out=sys.stdout) -> dict:
  """Runs the named sections in order; a failure is recorded, not raised."""
  results = {'machine': machine_info(), 'quick': quick}
  print_section('machine', results['machine'], out)
  for name in names:
    t0 = time.perf_counter()
    try:
      results[name] = SECTIONS[name](quick, results)
    except Exception as e:  # pylint: disable=broad-except
      traceback.print_exc(file=sys.stderr)
      results[name] = {'error': f'{type(e).__name__}: {e}'}
    results[name]['section_s'] = time.perf_counter() - t0
    print_section(name, results[name], out)
    if json_path:
      with open(json_path, 'w') as f:
        json.dump(results, f, indent=1)
  return results


def define_flags(fv, argv) -> None:
  from absl import flags
  flags.DEFINE_boolean('quick', False, 'Tiny sizes, seconds.', flag_values=fv)
  flags.DEFINE_string('json', None, 'Also write all results to this file.', flag_values=fv)
  flags.DEFINE_list('sections', list(SECTIONS), f'Subset of: {",".join(SECTIONS)}.',
                    flag_values=fv)


def bench(fv, args) -> int:
  unknown = [s for s in fv.sections if s not in SECTIONS]
  if unknown:
    raise ConfigError(f'unknown section(s) {",".join(unknown)}; known: '
                      f'{",".join(SECTIONS)}')
  results = run_bench(fv.sections, fv.quick, fv.json)
  return 1 if any('error' in results[n] for n in fv.sections) else 0


def main(argv: list[str] | None = None) -> int:
  """`python -m lnexp.bench [--quick] [--sections A,B] [--json OUT]`."""
  from lnexp import cli
  return cli.main('lnexp.bench', define_flags, bench, argv)
