"""Helpers that build known-bad inputs, for the tests and the fault benches (``bench/faults.py``)."""

from .corrupt_images import (BAD_LIST_LINES, CLASS_NUM, LIST_FILE, BadListCase, BadListLine, CorruptCase,
                             write_bad_lists, write_corrupt_dataset)

__all__ = ["BAD_LIST_LINES", "CLASS_NUM", "LIST_FILE", "BadListCase", "BadListLine", "CorruptCase",
           "write_bad_lists", "write_corrupt_dataset"]
