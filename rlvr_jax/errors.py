"""Errors that name what the user got wrong. A leaf module, so every package can raise them without
importing the config package (which imports nearly everything)."""


class ConfigError(ValueError):
  """A config field, file or directory with a bad value; the message names the field and the value.

  The launcher turns it into exit code 2 with the message alone (no traceback)."""
