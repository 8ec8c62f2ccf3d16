"""Objective discovery: the loss of a binary classifier, as a function of its margin.

The evaluator trains a small network with this loss on data with noisy labels and scores
the held-out accuracy (see task.yaml). Only loss() is evolved.
"""
import numpy as np


# EVOLVE-BLOCK-START
def loss(margin):
    """Per-example loss for margins m = y * f(x) (any array shape), and its derivative.

    Returns (values, gradients), two arrays shaped like `margin`; gradients must be
    d values / d margin. This is the logistic loss log(1 + exp(-m)).
    """
    m = np.asarray(margin, dtype=float)
    values = np.logaddexp(0.0, -m)
    gradients = -0.5 * (1.0 - np.tanh(0.5 * m))  # = -1 / (1 + exp(m)), overflow-free
    return values, gradients
# EVOLVE-BLOCK-END
