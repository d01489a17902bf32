"""Datasets as preprocessed train/val/test splits: ``load_dataset(name, resolution=..., ...)``."""

from __future__ import annotations

from nas_scaling.data.augment import AUGMENTS, BatchAugment, default_augment, flip_invariant
from nas_scaling.data.base import DatasetSplits
from nas_scaling.data.info import DatasetInfo, describe_inputs, inspect_dataset, resize_warning
from nas_scaling.data.load import DATASETS, IMAGEFOLDER_PREFIX, default_data_dir, load_dataset
from nas_scaling.data.preprocess import Normalization, TensorImageDataset
from nas_scaling.data.splits import SPLIT_SEED, stratified_split, stratified_subset

__all__ = [
    "AUGMENTS",
    "DATASETS",
    "IMAGEFOLDER_PREFIX",
    "SPLIT_SEED",
    "BatchAugment",
    "DatasetInfo",
    "DatasetSplits",
    "Normalization",
    "TensorImageDataset",
    "default_augment",
    "default_data_dir",
    "describe_inputs",
    "flip_invariant",
    "inspect_dataset",
    "load_dataset",
    "resize_warning",
    "stratified_split",
    "stratified_subset",
]
