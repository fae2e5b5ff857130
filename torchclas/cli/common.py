"""What several command groups share: the ``-c CONFIG -o Key=value`` arguments and loading them."""

from __future__ import annotations

import argparse

__all__ = ["add_config_args", "load"]


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """``-c/--config`` (required) and repeatable ``-o/--override Key.path=value``."""
    parser.add_argument("-c", "--config", required=True, help="YAML config (PaddleClas format)")
    parser.add_argument("-o", "--override", action="append", default=[], metavar="Key.path=value",
                        help="override a config key; repeatable")


def load(args: argparse.Namespace):
    """The config of ``-c`` with the ``-o`` overrides, every name checked (``torchclas.load_config``)."""
    from ..configure import load_config

    return load_config(args.config, args.override)
