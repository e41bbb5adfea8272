"""Tests for lnexp.data: batch layout, determinism, the synthetic entropy floor,
the text and tfds sources and their one-line ConfigErrors (all offline)."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time

import numpy as np
import pytest

from lnexp import config, data
from lnexp.data.base import BOS, BYTE_VOCAB_SIZE, EOS, NUM_SPECIAL, PAD, TRAIN_FRACTION
from lnexp.data.text import python_docs
from lnexp.errors import ConfigError
from lnexp.models.validate import validate

B, T = 4, 32
KEYS = {'inputs': np.int32, 'targets': np.int32, 'input_mask': np.float32,
        'loss_mask': np.float32, 'segment_ids': np.int32}


def _cfg(overrides=None):
  """base_config with small batches plus `overrides` (dotted keys), validated
  (as every run's config is before its source is built)."""
  cfg = config.apply_overrides(
      config.base_config(),
      {'train.batch_size': B, 'train.seq_len': T, **(overrides or {})})
  validate(cfg)
  return cfg


def _write_text(path, num_paragraphs=200, seed=0):
  """A UTF-8 file of blank-line separated paragraphs of varying length."""
  rng = np.random.default_rng(seed)
  words = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'café', 'naïve', '日本語',
           'norm', 'layer', 'batch', 'x']
  paragraphs = []
  for _ in range(num_paragraphs):
    lines = []
    for _ in range(rng.integers(1, 4)):
      lines.append(' '.join(rng.choice(words, size=rng.integers(1, 12))))
    paragraphs.append('\n'.join(lines))
  path.write_text('\n\n'.join(paragraphs) + '\n', encoding='utf-8')
  return path


def _tiny_tfds_dir(root):
  """Prepares a small array_record TFDS dataset (train + validation, no test)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  class LnexpTestLines(tfds.core.GeneratorBasedBuilder):
    """Sentences of varying length; the eval split is 'validation'."""
    VERSION = tfds.core.Version('1.0.0')

    def _info(self):
      return tfds.core.DatasetInfo(
          builder=self, features=tfds.features.FeaturesDict({
              'id': tfds.features.Scalar(np.int64),
              'text': tfds.features.Text()}))

    def _split_generators(self, dl_manager):
      del dl_manager
      return {'train': self._generate_examples('trn', 60),
              'validation': self._generate_examples('val', 15)}

    def _generate_examples(self, prefix, n):
      for i in range(n):
        yield i, {'id': i, 'text': f'{prefix}{i:02d} ' + 'ab' * (i % 9)}

  LnexpTestLines(data_dir=str(root), file_format='array_record'
                 ).download_and_prepare()
  return str(root)


@pytest.fixture(scope='module')
def text_path(tmp_path_factory):
  return _write_text(tmp_path_factory.mktemp('text') / 'corpus.txt')


@pytest.fixture(scope='module')
def tfds_dir(tmp_path_factory):
  return _tiny_tfds_dir(tmp_path_factory.mktemp('tfds'))


KINDS = ('synthetic', 'text', 'tfds', 'tfds_mock')


@pytest.fixture(params=KINDS)
def build(request, text_path, tfds_dir):
  """A function overrides -> DataSource, for each kind of source."""
  kind = request.param
  base = {
      'synthetic': {},
      'text': {'data.source': 'text', 'data.path': str(text_path)},
      'tfds': {'data.source': 'tfds', 'data.tfds_name': 'lnexp_test_lines',
               'data.tfds_data_dir': tfds_dir},
      'tfds_mock': {'data.source': 'tfds', 'data.tfds_name': 'lm1b'},
  }[kind]
  make = lambda overrides=None: data.make_source(_cfg({**base, **(overrides or {})}))
  if kind != 'tfds_mock':
    yield make
    return
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  with tfds.testing.mock_data(num_examples=20,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    yield make


def _check_batch(batch, source, pack):
  """Shapes, dtypes, shift, masks and segment ids of one batch."""
  assert set(batch) == set(KEYS)
  for key, dtype in KEYS.items():
    assert batch[key].shape == (source.batch_size, source.seq_len), key
    assert batch[key].dtype == dtype, key
  inputs, targets = batch['inputs'], batch['targets']
  assert inputs.min() >= 0 and max(inputs.max(), targets.max()) < source.vocab_size
  np.testing.assert_array_equal(targets[:, :-1], inputs[:, 1:])
  np.testing.assert_array_equal(batch['input_mask'], inputs != PAD)
  np.testing.assert_array_equal(batch['loss_mask'], targets != PAD)
  seg = batch['segment_ids']
  real = inputs != PAD
  assert (seg[~real] == 0).all()
  # Segment ids start at 1 and grow by one exactly at each BOS.
  expected = np.cumsum(inputs == BOS, axis=1) + (inputs[:, :1] != BOS)
  np.testing.assert_array_equal(seg[real], expected[real])
  # Each predicted BOS follows EOS (documents never run into each other).
  assert (inputs[targets == BOS] == EOS).all()
  if pack:
    assert real.all() and (targets != PAD).all()
    return
  assert (inputs[:, 0] == BOS).all() and (seg <= 1).all()
  for row_in, row_target, row_loss in zip(inputs, targets, batch['loss_mask']):
    eos = np.flatnonzero(row_in == EOS)
    if len(eos):  # nothing after EOS counts, as input or as target
      end = eos[0]
      assert (row_in[end + 1:] == PAD).all() and (row_target[end:] == PAD).all()
      assert (row_loss[end:] == 0).all()
    else:
      assert (row_in != PAD).all()


@pytest.mark.parametrize('pack', [True, False])
def test_batch_layout(build, pack):
  source = build({'data.pack': pack})
  assert source.vocab_size == (35 if source.name == 'synthetic' else 259)
  for batch in (source.train_batch(0), source.train_batch(7),
                source.eval_batch(0), source.eval_batch(3)):
    _check_batch(batch, source, pack)


@pytest.mark.parametrize('pack', [True, False])
def test_deterministic_random_access(build, pack):
  one, two = build({'data.pack': pack}), build({'data.pack': pack})
  for a, b in ((one.train_batch(5), two.train_batch(5)),
               (one.train_batch(5), one.train_batch(5)),
               (one.eval_batch(2), two.eval_batch(2))):
    for key in KEYS:
      np.testing.assert_array_equal(a[key], b[key])
  train, evaluation = one.train_batch(0), one.eval_batch(0)
  assert not np.array_equal(train['inputs'], evaluation['inputs'])
  assert not np.array_equal(train['inputs'], one.train_batch(1)['inputs'])
  reseeded = build({'data.pack': pack, 'data.seed': 1})
  assert not np.array_equal(train['inputs'], reseeded.train_batch(0)['inputs'])


def test_eval_index_is_checked():
  source = data.make_source(_cfg({'train.eval_batches': 2}))
  source.eval_batch(1)
  with pytest.raises(IndexError):
    source.eval_batch(2)


def test_synthetic_documents_have_variable_length():
  source = data.make_source(_cfg({'data.pack': False, 'train.batch_size': 64,
                                  'train.seq_len': 128}))
  inputs = source.train_batch(0)['inputs']
  lengths = (inputs != PAD).sum(axis=1)
  assert len(np.unique(lengths)) >= 10, lengths
  assert lengths.min() >= 3  # BOS, at least one symbol, EOS


@pytest.mark.parametrize('pack', [True, False])
def test_synthetic_entropy_floor(pack):
  """Mean true-model loss of generated tokens equals the exact floor."""
  source = data.make_source(_cfg({'data.pack': pack, 'train.batch_size': 64,
                                  'train.seq_len': 128}))
  nll = count = 0.0
  counts = np.zeros(source.vocab_size)
  for step in range(40):
    batch = source.train_batch(step)
    log_p = source.log_probs(batch)
    used = (batch['loss_mask'] > 0) & ~np.isnan(log_p)
    nll -= log_p[used].sum()
    count += used.sum()
    counts += np.bincount(batch['targets'][batch['loss_mask'] > 0],
                          minlength=source.vocab_size)
  probs = counts[counts > 0] / counts.sum()
  unigram = -(probs * np.log(probs)).sum()
  print(f'pack={pack}: floor={source.entropy_floor:.4f} '
        f'empirical={nll / count:.4f} unigram={unigram:.4f} nats/token '
        f'({int(count)} tokens); packed entropy rate={source.entropy_rate:.4f}')
  assert abs(nll / count - source.entropy_floor) < 0.015
  assert unigram > source.entropy_floor + 0.5
  if pack:  # only an order-2 row's first position lacks its history
    assert np.isnan(log_p[:, 1:]).sum() == 0


def test_synthetic_entropy_floor_order1_exact_start():
  source = data.make_source(_cfg({'data.order': 1, 'data.num_symbols': 8,
                                  'train.batch_size': 64, 'train.seq_len': 128}))
  batch = source.train_batch(0)
  log_p = source.log_probs(batch)
  assert not np.isnan(log_p).any()
  assert abs(-log_p.mean() - source.entropy_floor) < 0.05
  assert np.isclose(source.stationary.sum(), 1.0)


@pytest.mark.parametrize('overrides, key', [
    ({'data.order': 3}, 'data.order'),
    ({'data.concentration': 0.0}, 'data.concentration'),
    ({'data.mean_doc_len': 0}, 'data.mean_doc_len'),
    ({'data.num_symbols': 0}, 'data.num_symbols'),
    ({'data.num_symbols': 1000, 'data.order': 2}, 'data.num_symbols'),
    ({'data.seed': -1}, 'data.seed'),
    ({'train.seq_len': 0}, 'train.seq_len'),
])
def test_synthetic_config_errors(overrides, key):
  with pytest.raises(ConfigError) as e:
    data.make_source(_cfg(overrides))
  assert key in str(e.value) and '\n' not in str(e.value)


def test_unknown_source_is_rejected():
  cfg = _cfg()
  cfg.data.source = 'parquet'
  with pytest.raises(ConfigError, match='data.source'):
    validate(cfg)


def test_a_vocab_size_below_the_data_s_is_an_error_naming_both(tmp_path, capsys):
  for size in (35, 40, -1):  # the data's, larger, or the data's by default
    data.make_source(_cfg({'model.vocab_size': size}))
  with pytest.raises(ConfigError) as e:
    data.make_source(_cfg({'model.vocab_size': 5}))
  assert 'model.vocab_size=5' in str(e.value) and 'the 35 tokens' in str(e.value)
  for size in (0, -2):
    with pytest.raises(ConfigError, match=f'model.vocab_size={size} must be -1'):
      _cfg({'model.vocab_size': size})
  from lnexp import run
  rc = run.main(['--config', 'configs/default.py', '--workdir', str(tmp_path / 'w'),
                 '--config.model.vocab_size=5'])
  err = capsys.readouterr().err
  assert rc == 2 and err.count('\n') == 1 and 'model.vocab_size=5' in err
  assert not (tmp_path / 'w').exists()


@pytest.mark.parametrize('pack', [True, False])
def test_text_rows_come_from_their_split(text_path, pack):
  raw = text_path.read_bytes()
  cut = int(len(raw) * TRAIN_FRACTION)
  source = data.make_source(_cfg({'data.source': 'text',
                                  'data.path': str(text_path), 'data.pack': pack}))
  for batch, part in ((source.train_batch(3), raw[:cut]),
                      (source.eval_batch(1), raw[cut:])):
    for row in batch['inputs']:
      body = row[(row != PAD) & (row != BOS) & (row != EOS)] - NUM_SPECIAL
      text = bytes(body.astype(np.uint8).tolist())
      assert text in part
      if not pack:  # one paragraph, trailing newlines cut
        assert b'\n\n' not in text
        assert not ((row == EOS).any() and text.endswith(b'\n'))


@pytest.mark.parametrize('content, key, words', [
    (None, 'data.path', ['empty']),
    ('missing', 'data.path', ['does not exist']),
    (b'hello \xff\xfe world' * 50, 'data.path', ['UTF-8', 'offset 6']),
    (b'x' * 100, 'data.path', ['eval split', '10 bytes', 'at least 33']),
])
def test_text_errors(tmp_path, content, key, words):
  path = ''
  if content is not None:
    path = str(tmp_path / 'file.txt')
    if content != 'missing':
      (tmp_path / 'file.txt').write_bytes(content)
  with pytest.raises(ConfigError) as e:
    data.make_source(_cfg({'data.source': 'text', 'data.path': path}))
  message = str(e.value)
  assert key in message and '\n' not in message, message
  for word in words:
    assert word in message, message


def test_python_docs_is_cpython_reference_text_cut_to_max_bytes():
  from pydoc_data import topics
  raw = python_docs()
  assert topics.topics['assert'].strip().encode() in raw and len(raw) > 300_000
  source = data.make_source(_cfg({'data.source': 'python_docs', 'data.max_bytes': 5000}))
  assert source.vocab_size == BYTE_VOCAB_SIZE and source.name == 'python_docs[:5000]'
  cut = int(5000 * TRAIN_FRACTION)
  for batch, part in ((source.train_batch(0), raw[:cut]), (source.eval_batch(0),
                                                             raw[cut:5000])):
    for row in batch['inputs']:
      assert bytes((row - NUM_SPECIAL).astype(np.uint8).tolist()) in part
  with pytest.raises(ConfigError, match='data.max_bytes=-1 must be >= 0'):
    data.make_source(_cfg({'data.source': 'python_docs', 'data.max_bytes': -1}))


def test_text_without_paragraphs_padded(tmp_path):
  path = tmp_path / 'blank.txt'
  path.write_text('word\n\n' + ' \n' * 400)
  with pytest.raises(ConfigError, match='data.path'):
    data.make_source(_cfg({'data.source': 'text', 'data.path': str(path),
                           'data.pack': False}))


def test_tfds_reads_validation_when_no_test_split(tfds_dir):
  source = data.make_source(_cfg({
      'data.source': 'tfds', 'data.tfds_name': 'lnexp_test_lines',
      'data.tfds_data_dir': tfds_dir, 'data.pack': False}))
  for batch, prefix in ((source.train_batch(0), b'trn'),
                        (source.eval_batch(0), b'val')):
    for row in batch['inputs']:
      text = bytes((row[1:4] - NUM_SPECIAL).astype(np.uint8).tolist())
      assert text == prefix
  # One epoch of padded rows visits every train record exactly once.
  source = data.make_source(_cfg({
      'data.source': 'tfds', 'data.tfds_name': 'lnexp_test_lines',
      'data.tfds_data_dir': tfds_dir, 'data.pack': False,
      'train.batch_size': 6}))
  seen = [bytes((row[4:6] - NUM_SPECIAL).astype(np.uint8).tolist())
          for step in range(10) for row in source.train_batch(step)['inputs']]
  assert sorted(seen) == sorted(f'{i:02d}'.encode() for i in range(60))


@pytest.mark.parametrize('name', ['tiny_shakespeare', 'lm1b'])
def test_tfds_missing_dataset_fails_fast(tmp_path, name):
  start = time.time()
  with pytest.raises(ConfigError) as e:
    data.make_source(_cfg({'data.source': 'tfds', 'data.tfds_name': name,
                           'data.tfds_data_dir': str(tmp_path)}))
  message = str(e.value)
  assert time.time() - start < 5
  assert 'data.tfds_name' in message and 'data.tfds_download=True' in message
  assert str(tmp_path) in message and '\n' not in message
  assert not list(tmp_path.iterdir())  # nothing was written


@pytest.mark.parametrize('name, words', [
    ('no_such_dataset_xyz', ['not a known TFDS dataset']),
    ('', ['data.tfds_name is empty']),
])
def test_tfds_bad_names(tmp_path, name, words):
  with pytest.raises(ConfigError) as e:
    data.make_source(_cfg({'data.source': 'tfds', 'data.tfds_name': name,
                           'data.tfds_data_dir': str(tmp_path)}))
  for word in words:
    assert word in str(e.value)


def test_same_batches_in_a_fresh_process_without_tfds_import():
  """Seeding never depends on the process; importing data does not load tfds."""
  overrides = {'data.pack': False, 'data.seed': 3}
  expected = hashlib.sha256(
      data.make_source(_cfg(overrides)).train_batch(11)['inputs'].tobytes()
  ).hexdigest()
  code = (
      'import hashlib, sys\n'
      'from lnexp import config, data\n'
      f'cfg = config.apply_overrides(config.base_config(), {{"train.batch_size": '
      f'{B}, "train.seq_len": {T}, **{overrides!r}}})\n'
      'inputs = data.make_source(cfg).train_batch(11)["inputs"]\n'
      'print(hashlib.sha256(inputs.tobytes()).hexdigest())\n'
      'print("tensorflow_datasets" in sys.modules)\n')
  out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                       text=True, check=True).stdout.split()
  assert out == [expected, 'False']


def test_synthetic_batches_are_fast():
  source = data.make_source(_cfg({'train.batch_size': 32, 'train.seq_len': 128}))
  source.train_batch(0)
  start = time.perf_counter()
  for step in range(10):
    source.train_batch(step)
  assert (time.perf_counter() - start) / 10 < 0.05
