"""Keras 3 layers and the classifier model wrapping :mod:`snnlib.network`."""

from snnlib.layers.classifier import READOUTS, SNNClassifier
from snnlib.layers.network import LeakyReadout, LIFStack, sparse_sizes_for
from snnlib.layers.optimizer import FusedAdam

__all__ = ["READOUTS", "FusedAdam", "LIFStack", "LeakyReadout", "SNNClassifier",
           "sparse_sizes_for"]
