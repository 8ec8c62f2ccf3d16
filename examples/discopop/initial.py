"""Objective discovery: the loss of a binary classifier, as a function of its margin.

The evaluator trains a small network with this loss on data with noisy labels and scores
the held-out accuracy (see task.yaml). Only loss() is evolved.
"""
import numpy as np

# EVOLVE-BLOCK-START
SHARPNESS = 1.0  # the logistic loss of s * m, divided by s


def loss(margin):
    """Per-example loss for margins m = y * f(x) (any array shape), and its derivative.

    Returns (values, gradients), two arrays shaped like `margin`; gradients must be
    d values / d margin. This is the logistic loss log(1 + exp(-s m)) / s.
    """
    s = SHARPNESS
    m = np.asarray(margin, dtype=float)
    values = np.logaddexp(0, -s * m) / s
    gradients = -np.exp(-np.logaddexp(0, s * m))  # = -1 / (1 + exp(s m)), overflow-free
    return values, gradients
# EVOLVE-BLOCK-END
