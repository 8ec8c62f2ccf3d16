"""examples/discopop: the unit-test stage gates training; broken and cheating losses."""
from __future__ import annotations

import pytest
from example_helpers import initial

TASK = "discopop"
SIGMOID = '''import numpy as np
def loss(margin):
    m = np.asarray(margin, dtype=float)
    t = np.tanh(0.5 * m)
    return 1.0 - t, -0.5 * (1.0 - t * t)
'''


def body(expr_values: str, expr_grads: str) -> str:
    return ("import numpy as np\n"
            "def loss(margin):\n"
            "    m = np.asarray(margin, dtype=float)\n"
            f"    return {expr_values}, {expr_grads}\n")


def test_initial_logistic_loss_trains(evaluate):
    ev = evaluate(TASK, initial(TASK))
    assert ev.status == "ok", ev.reason
    assert 0.70 < ev.result.score < 0.80 and 0.70 < ev.result.private_score < 0.80
    assert ev.result.metrics["stage"] == "train"


def test_a_robust_loss_scores_higher(evaluate):
    base = evaluate(TASK, initial(TASK)).result.score
    ev = evaluate(TASK, SIGMOID)
    assert ev.status == "ok" and ev.result.score > base + 0.03


def test_unit_stage_alone(evaluate):
    ev = evaluate(TASK, initial(TASK), stage_args={"train": False})
    assert ev.status == "ok" and ev.result.metrics["stage"] == "unit"


@pytest.mark.parametrize("code,needle", [
    (body("np.logaddexp(0, -m)", "-0.7 / (1 + np.exp(m))"), "gradients do not match"),
    (body("np.log(m)", "1 / m"), "not finite"),
    (body("np.mean(m)", "np.ones_like(m)"), "shape"),
    (body("m - m.mean()", "np.ones_like(m)"), "elementwise"),
    (body("1e5 * -m", "np.full_like(m, -1e5)"), "below 1000"),
    ("def loss(margin):\n    return 1.0\n", "must return a pair"),
    (body("[['x'] * m.shape[-1]] * m.shape[0]", "m"), "not numbers"),
    # shows a consistent loss to the 2-D unit tests, another gradient to the 1-D grid
    (body("np.logaddexp(0, -m)",
          "-1 / (1 + np.exp(m)) if m.ndim == 2 else np.where(m < 0, 0.0, -1.0)"),
     "on the margin grid"),
    (body("np.logaddexp(0, -m) if m.ndim == 2 else m * 0",
          "-1 / (1 + np.exp(m)) if m.ndim == 2 else m * 0"), "in two calls"),
])
def test_broken_and_cheating_losses_are_invalid(evaluate, code, needle):
    ev = evaluate(TASK, code)
    assert ev.status == "invalid" and needle in ev.reason, ev.reason


def test_a_crashing_loss_is_an_error(evaluate):
    ev = evaluate(TASK, "def loss(margin):\n    raise ValueError('nope')\n")
    assert ev.status == "error" and "ValueError: nope" in ev.reason
