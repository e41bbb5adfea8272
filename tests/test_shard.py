"""--shard I/N slices and lnexp.merge: all shards merged equal the unsharded run."""

import io

import pytest

from lnexp import config as config_lib
from lnexp import run
from lnexp.ops import merge
from lnexp.runtime import plan, processes
from tests.test_run import TINY, assert_same_results, rows_by_lr

# Single-lane groups without diagnostics: every run here reuses one compiled program.
FLAGS = ['--config', TINY, '--config.train.max_lanes_per_program=1',
         '--config.diagnostics.enabled=false']



def test_shards_merged_equal_the_unsharded_sweep(tmp_path, capsys):
  flags = FLAGS
  assert run.main(flags + ['--workdir', str(tmp_path / 'whole')]) == 0
  rows = rows_by_lr(tmp_path / 'whole')
  # 3 one-lane groups of one structure, ~2 s each plus a compile (plan.COMPILE_S) per shard
  # (plan.estimate_seconds): shard 0 runs groups 0 and 2, shard 1 group 1.
  for i in range(2):
    assert run.main(flags + ['--workdir', str(tmp_path / f's{i}'), f'--shard={i}/2']) == 0
  assert len(rows_by_lr(tmp_path / 's0')) == 2 and len(rows_by_lr(tmp_path / 's1')) == 1
  assert merge.main(['--out', str(tmp_path / 'all'), str(tmp_path / 's0'),
                     str(tmp_path / 's1')]) == 0
  assert_same_results(rows_by_lr(tmp_path / 'all'), rows)
  for row in rows.values():
    assert (tmp_path / 'all' / 'metrics' / f"{row['point_id']}.jsonl").exists()
  capsys.readouterr()
  # The merged workdir is a finished run: rerunning the unsharded command skips it.
  assert run.main(flags + ['--workdir', str(tmp_path / 'all')]) == 0
  assert '3 points (3 finished)' in capsys.readouterr().out
  # Both shards at once, single-threaded processes sharing one workdir.
  log = io.StringIO()
  processes.run_pool(processes.shard_units(flags + ['--workdir', str(tmp_path / 'parallel')], 2),
                     2, log)
  assert '[0/2] ' in log.getvalue() and '[1/2] ' in log.getvalue()
  assert_same_results(rows_by_lr(tmp_path / 'parallel'), rows)


def test_shards_partition_groups_and_keep_seeds_of_a_variant_together():
  base = config_lib.base_config()
  base.train.steps = 10  # a group costs less than a compile: buckets stay whole
  sweep = [{'model.norm': n, 'data.seed': s, 'train.seed': s}
           for n in ('layernorm', 'rmsnorm', 'none') for s in range(3)]
  groups = plan.make_groups(plan.make_points(base, sweep))
  assert len(groups) == 9  # data.seed is part of a group's structure
  shards = [plan.shard_groups(groups, i, 2) for i in range(2)]
  ids = [g.group_id for s in shards for g in s]
  assert sorted(ids) == sorted(g.group_id for g in groups)  # each group exactly once
  for shard in shards:  # a variant's seeds share compiled programs: one shard each
    norms = [g.config.model.norm for g in shard]
    assert all(norms.count(n) in (0, 3) for n in norms)
  assert {len(s) for s in shards} == {3, 6}


@pytest.mark.parametrize('shard', ['3/2', 'x', '1', '-1/2', '2/2'])
def test_bad_shard_exits_2(shard, tmp_path, capsys):
  assert run.main(['--config', TINY, '--workdir', str(tmp_path / 'w'),
                   f'--shard={shard}']) == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and '--shard' in err and not (tmp_path / 'w').exists()


def test_merging_different_configs_exits_2(tmp_path, capsys):
  """Same structure as the test above (its compiled program is reused)."""
  for name, log_every in (('a', 10), ('b', 20)):
    assert run.main(FLAGS + ['--workdir', str(tmp_path / name),
                             f'--config.train.log_every={log_every}']) == 0
  capsys.readouterr()
  assert merge.main(['--out', str(tmp_path / 'm'), str(tmp_path / 'a'),
                     str(tmp_path / 'b')]) == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'different base config' in err
  assert not (tmp_path / 'm' / 'results.jsonl').exists()
  # Committed (compacted) results are not shards: one line, nothing merged.
  from lnexp.ops import compact
  compact.compact(str(tmp_path / 'b'))
  assert merge.main(['--out', str(tmp_path / 'm'), str(tmp_path / 'a'),
                     str(tmp_path / 'b')]) == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'holds compacted metrics' in err
  assert not (tmp_path / 'm' / 'results.jsonl').exists()


def test_shards_that_differ_only_in_their_lane_split_merge(tmp_path):
  """A shard rerun with another train.max_lanes_per_program (the out-of-memory
  advice) still merges with the others."""
  from lnexp.runtime.workdir import Workdir
  base = config_lib.flatten(config_lib.base_config())
  for name, lanes in (('a', 0), ('b', 2)):
    Workdir(str(tmp_path / name)).start('tiny', {**base, 'train.max_lanes_per_program': lanes},
                                        [])
  assert merge.merge(str(tmp_path / 'm'), [str(tmp_path / 'a'), str(tmp_path / 'b')]) == 0
