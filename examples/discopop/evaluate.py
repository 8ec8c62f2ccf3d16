"""Trusted evaluator for objective discovery (DiscoPOP style): the program is a loss.

Stage 1, unit tests (cheap): loss() is called in the sandbox on a 4 x 256 batch of random
margins (plus edge values) and must return (values, gradients) shaped like its input, all
finite, elementwise (a reversed row gives the reversed answer), with gradients that match
central differences of the values, and of a sane size. Any failure makes the candidate
invalid with the exact reason; the training stage does not run.

Stage 2, training (the costly part, about a second): loss() is called once more on a fine
grid of margins in [-20, 20]; the grid must agree with stage 1 (same function) and with its
own finite differences. The network is then trained *here*, in this trusted process, with
the tabulated derivative (linear interpolation, clamped at the ends), so candidate code
never runs during training and never sees the data. Score: mean held-out accuracy over the
public seeds; private seeds give `private_score`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from evoforge import Candidate, Result

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tiny_learning

PUBLIC_SEEDS = [0, 1, 2]
PRIVATE_SEEDS = [100, 101, 102]
STEP = 1e-4              # finite-difference step of the gradient check
MAX_GRADIENT = 1e3       # beyond this, gradient descent at the fixed rate would blow up
GRID = np.linspace(-20.0, 20.0, 8001)
CPU_BUDGET_S = 5.0       # per loss() call; training runs here, so candidate compute never buys score


def _pair(out, shape, what):
    """(values, gradients) as float arrays of `shape`, or a reason string."""
    if not isinstance(out, (list, tuple)) or len(out) != 2:
        return f"loss() must return a pair (values, gradients); {what} it returned " \
               f"{type(out).__name__}"
    arrays = []
    for name, item in zip(("values", "gradients"), out):
        try:
            arr = np.asarray(item, dtype=float)
        except (TypeError, ValueError):
            return f"loss() {name} are not numbers ({what})"
        if arr.shape != shape:
            return f"loss() {name} have shape {arr.shape}, expected {shape} ({what})"
        bad = ~np.isfinite(arr)
        if bad.any():
            return f"loss() {name} are not finite ({what}), e.g. {arr[bad].flat[0]}"
        arrays.append(arr)
    if np.abs(arrays[1]).max() > MAX_GRADIENT:
        return f"loss() gradients reach {np.abs(arrays[1]).max():.3g} ({what}); keep them " \
               f"below {MAX_GRADIENT:g} or training diverges"
    return arrays[0], arrays[1]


def _gradient_mismatch(grad, approx, margins, share=0.02, tol=1e-3):
    """A reason when more than `share` of the points disagree (kinks may miss a few)."""
    err = np.abs(grad - approx) / np.maximum(1.0, np.maximum(np.abs(grad), np.abs(approx)))
    wrong = err > tol
    if wrong.mean() > share:
        k = int(np.argmax(err))
        return (f"gradients do not match the values: at margin {margins.flat[k]:.4f} the "
                f"gradient is {grad.flat[k]:.6g} but the values change at "
                f"{approx.flat[k]:.6g} ({wrong.mean():.0%} of points disagree)")
    return None


def unit_tests(candidate: Candidate):
    """Stage 1: the reason the loss is unusable, or None."""
    rng = np.random.default_rng(20240601)
    margins = rng.uniform(-10.0, 10.0, 256)
    margins[:8] = [0.0, 1e-3, -1e-3, 1.0, -1.0, 19.5, -19.5, 5.0]
    batch = np.stack([margins, margins + STEP, margins - STEP, margins[::-1]])
    pair = _pair(candidate.call("loss", batch, timeout=20, cpu_budget_s=CPU_BUDGET_S), batch.shape, "on a 4x256 batch")
    if isinstance(pair, str):
        return pair, None
    values, grads = pair
    if not (np.allclose(values[3], values[0][::-1], rtol=1e-9, atol=1e-12)
            and np.allclose(grads[3], grads[0][::-1], rtol=1e-9, atol=1e-12)):
        return "loss() is not elementwise: reversing the margins did not reverse the answer", None
    approx = (values[1] - values[2]) / (2 * STEP)
    return _gradient_mismatch(grads[0], approx, margins), (margins, values[0])


def table(candidate: Candidate, probe):
    """Stage 2a: the loss on the grid, checked against itself and against stage 1."""
    pair = _pair(candidate.call("loss", GRID, timeout=20, cpu_budget_s=CPU_BUDGET_S), GRID.shape, "on the margin grid")
    if isinstance(pair, str):
        return pair, None
    values, grads = pair
    approx = np.gradient(values, GRID)
    reason = _gradient_mismatch(grads[1:-1], approx[1:-1], GRID[1:-1], share=0.02, tol=2e-2)
    if reason:
        return "on the margin grid, " + reason, None
    margins, probe_values = probe
    inner = np.abs(margins) < 19.9
    again = np.interp(margins[inner], GRID, values)
    if not np.allclose(again, probe_values[inner], rtol=1e-2, atol=1e-2):
        return ("loss() gave different values for the same margins in two calls: it must be "
                "elementwise and deterministic"), None
    return None, grads


def score_seeds(grads, seeds):
    def grad(m):
        return np.interp(m, GRID, grads)
    accs = []
    for seed in seeds:
        x_train, y_train, x_test, y_test = tiny_learning.make_data(seed)
        model = tiny_learning.train(grad, x_train, y_train, seed)
        if model is None:
            return None
        accs.append(tiny_learning.accuracy(model, x_test, y_test))
    return accs


def evaluate(candidate: Candidate, train: bool = True) -> Result:
    reason, probe = unit_tests(candidate)
    if reason:
        return Result.invalid("unit tests failed: " + reason, stage="unit")
    if not train:
        return Result(score=0.0, feedback="unit tests passed (training skipped)",
                      metrics={"stage": "unit"})
    reason, grads = table(candidate, probe)
    if reason:
        return Result.invalid("unit tests failed: " + reason, stage="table")
    public = score_seeds(grads, PUBLIC_SEEDS)
    if public is None:
        return Result.invalid("training diverged (weights became infinite or NaN)",
                              stage="train")
    private = score_seeds(grads, PRIVATE_SEEDS)
    mean = float(np.mean(public))
    feedback = (f"held-out accuracy {mean:.4f} (mean of {len(public)} data sets; "
                + ", ".join(f"{a:.3f}" for a in public) + "); 30% of training labels are "
                "flipped, test labels are clean")
    return Result(score=mean, feedback=feedback,
                  private_score=float(np.mean(private)) if private else None,
                  metrics={"stage": "train", **{f"acc_seed_{s}": a
                                                for s, a in zip(PUBLIC_SEEDS, public)}})
