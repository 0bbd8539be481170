"""Datasets as uint8 arrays: image folders (dir or .tar.gz), CIFAR-10 python batches, generated data.

Every source decodes once into a cached ``.npz`` of uint8 NHWC images + int64 labels, so epochs
never touch JPEG decoding again. Augmentation works on batches of uint8 tensors (no torchvision).
"""
from .augment import augment_batch
from .sources import CIFAR10_CLASSES, Dataset, generate_dataset, load_dataset

__all__ = ["CIFAR10_CLASSES", "Dataset", "augment_batch", "generate_dataset", "load_dataset"]
