"""The one exception type for bad user input (config, overrides, data paths)."""


class ConfigError(ValueError):
  """Bad input. Entry points print its message as one line and exit 2."""
