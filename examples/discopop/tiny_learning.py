"""The learning problem of the objective-discovery task: a small, CPU-sized, numpy-only one.

Two interleaved half-moons in 2-D plus 8 pure-noise features; 30% of the *training* labels
are flipped at random, the held-out labels are clean. A one-hidden-layer tanh network (32
units) is trained by full-batch gradient descent for a fixed number of steps with a fixed
learning rate, so the only thing that changes between candidates is the loss. With noisy
labels the logistic loss lets the network chase the flipped examples; losses that give up
on badly-classified points (bounded, non-convex) generalise better - there is room to
discover something.

The loss enters only through its derivative g(m) = d loss / d margin, with margin
m = y * f(x), y in {-1, +1}: the gradient with respect to f(x) is y * g(m) / n.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

N_TRAIN, N_TEST, NOISE_FEATURES, FLIP = 800, 2000, 8, 0.30
HIDDEN, STEPS, LEARNING_RATE = 32, 400, 0.5


def make_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, y_train with flipped labels, X_test, y_test clean); deterministic."""
    rng = np.random.default_rng(seed)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 2, n) * 2 - 1
        t = rng.uniform(0, np.pi, n)
        x0 = np.where(y > 0, np.cos(t), 1 - np.cos(t))
        x1 = np.where(y > 0, np.sin(t), 0.5 - np.sin(t))
        x = np.column_stack([x0, x1]) + rng.normal(0, 0.15, (n, 2))
        x = np.column_stack([x, rng.normal(0, 1, (n, NOISE_FEATURES))])
        return x, y.astype(float)

    x_train, y_train = sample(N_TRAIN)
    x_test, y_test = sample(N_TEST)
    flipped = rng.random(N_TRAIN) < FLIP
    return x_train, np.where(flipped, -y_train, y_train), x_test, y_test


def train(grad: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray,
          seed: int) -> Callable[[np.ndarray], np.ndarray] | None:
    """Train the network with d loss / d margin = grad(margin); None if it diverged."""
    rng = np.random.default_rng(seed + 1000)
    d = x.shape[1]
    w1 = rng.normal(0, 1 / np.sqrt(d), (d, HIDDEN))
    b1 = np.zeros(HIDDEN)
    w2 = rng.normal(0, 1 / np.sqrt(HIDDEN), HIDDEN)
    b2 = 0.0
    n = len(y)
    with np.errstate(all="ignore"):
        for _ in range(STEPS):
            h = np.tanh(x @ w1 + b1)
            g = grad(y * (h @ w2 + b2)) * y / n
            gh = np.outer(g, w2) * (1 - h * h)
            w2 = w2 - LEARNING_RATE * (h.T @ g)
            b2 = b2 - LEARNING_RATE * g.sum()
            w1 = w1 - LEARNING_RATE * (x.T @ gh)
            b1 = b1 - LEARNING_RATE * gh.sum(0)
        if not all(np.all(np.isfinite(p)) for p in (w1, b1, w2, np.array(b2))):
            return None
    return lambda inputs: np.tanh(inputs @ w1 + b1) @ w2 + b2


def accuracy(model: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.where(model(x) >= 0, 1.0, -1.0) == y))
