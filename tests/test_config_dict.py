"""lnexp.config_dict, the ConfigDict used where ml_collections is not installed,
against ml_collections' own on everything lnexp does with a config."""
import ml_collections

from lnexp import config as config_lib
from lnexp.config_dict import ConfigDict


def test_behaves_like_ml_collections_for_lnexp():
  base = config_lib.base_config()
  assert isinstance(base, ml_collections.ConfigDict)  # the installed one wins
  ours = ConfigDict(base.to_dict())
  assert ours.to_dict() == base.to_dict()
  assert isinstance(ours.model, ConfigDict) and ours.model.norm == base.model.norm
  assert ours['train']['steps'] == base['train']['steps']
  assert 'model' in ours and 'nothing' not in ours and list(ours.keys()) == list(base.keys())
  copy = ours.copy_and_resolve_references()
  copy.model.norm = 'rmsnorm'
  copy.train = {'steps': 3}  # a dict becomes a ConfigDict, as in ml_collections
  assert ours.model.norm == base.model.norm and copy.train.steps == 3
  try:
    ours.model.nothing
  except AttributeError as e:
    assert 'nothing' in str(e)
  else:
    raise AssertionError('a missing field must raise AttributeError')


def test_config_functions_work_on_it():
  """apply_overrides / validate / canonical / get take either class."""
  ours = ConfigDict(config_lib.base_config().to_dict())
  cfg = config_lib.apply_overrides(ours, {'model.norm': 'none', 'train.steps': '7'},
                                   from_cli=True)
  config_lib.validate(cfg)
  assert config_lib.get(cfg, 'train.steps') == 7
  assert config_lib.canonical(cfg).model.placement == 'pre'
  assert ours.model.norm == 'layernorm'  # overrides copy
