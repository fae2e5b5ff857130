"""Data: datasets (file list, image folder), PaddleClas transform and batch ops (their names in
`registry`), the decoders (`decode/`) and the loader (``build_dataloader`` → `DeviceLoader`,
batches finished on the device)."""

from .datasets import (BadImageError, FileListDataset, ImageFolderDataset, build_dataset,
                       collate_skip_bad, read_file_list, read_label_list, read_numbered_file_list)
from .loader import DeviceLoader, SeededBatchSampler, build_dataloader
from .pipeline import build_batch_ops, build_transforms, check_batch_ops, check_ops
from .registry import BATCH_OPS, TRANSFORMS

__all__ = ["BadImageError", "FileListDataset", "ImageFolderDataset", "build_dataset",
           "collate_skip_bad", "read_file_list", "read_label_list", "read_numbered_file_list", "SeededBatchSampler",
           "DeviceLoader", "build_dataloader", "TRANSFORMS", "BATCH_OPS", "build_transforms", "check_ops",
           "build_batch_ops", "check_batch_ops"]
