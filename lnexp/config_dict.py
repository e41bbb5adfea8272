"""The part of `ml_collections.ConfigDict` lnexp uses, for machines without it.

A lent accelerator's own Python (jax, flax and optax only) can then run
`lnexp.bench` and the model as they are. lnexp.config uses ml_collections when
it is installed (always, with lnexp's own install), this otherwise: nested
attribute and item access, `in`, keys, `to_dict` and copies; no type locking
and no field references.
"""
from __future__ import annotations


class ConfigDict:
  """Nested dict with attribute access; dict values become ConfigDicts."""

  def __init__(self, initial: dict | ConfigDict | None = None):
    object.__setattr__(self, '_fields', {})
    for key, value in (initial or {}).items():
      self[key] = value

  def __setitem__(self, key: str, value) -> None:
    self._fields[key] = ConfigDict(value) if isinstance(value, dict) else value

  def __getitem__(self, key: str):
    return self._fields[key]

  def __setattr__(self, key: str, value) -> None:
    self[key] = value

  def __getattr__(self, key: str):
    if key == '_fields':  # not set yet (copy, unpickling): no recursion
      raise AttributeError(key)
    try:
      return self._fields[key]
    except KeyError:
      raise AttributeError(f'ConfigDict has no field {key!r}') from None

  def __contains__(self, key: str) -> bool:
    return key in self._fields

  def __eq__(self, other) -> bool:
    return isinstance(other, ConfigDict) and self.to_dict() == other.to_dict()

  def __repr__(self) -> str:
    return f'ConfigDict({self.to_dict()!r})'

  def keys(self):
    return self._fields.keys()

  def items(self):
    return self._fields.items()

  def to_dict(self) -> dict:
    return {k: v.to_dict() if isinstance(v, ConfigDict) else v
            for k, v in self._fields.items()}

  def copy_and_resolve_references(self) -> ConfigDict:
    return ConfigDict(self.to_dict())
