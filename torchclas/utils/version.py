"""The torchclas version, written into exported files (kept with pyproject.toml's)."""

__version__ = "0.1.0"
