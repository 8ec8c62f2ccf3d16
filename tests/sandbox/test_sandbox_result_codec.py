"""Result and the plain-data codec (no subprocesses)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from evoforge.sandbox import Result
from evoforge.sandbox._call_worker import EncodeError, decode, dumps, encode


def roundtrip(value):
    return decode(json.loads(dumps(encode(value))))


def test_result_defaults_and_invalid():
    r = Result(score=1.5)
    assert r.valid and r.feedback == "" and r.metrics == {} and r.artifacts == {}
    assert r.problem() is None
    bad = Result.invalid("overlap of circles 3 and 7", overlap=0.25)
    assert not bad.valid and bad.score is None and bad.feedback == "overlap of circles 3 and 7"
    assert bad.metrics == {"overlap": 0.25}
    assert bad.problem() is None  # an invalid Result is a legitimate outcome


def test_result_defaults_are_not_shared():
    a, b = Result(score=1), Result(score=2)
    a.metrics["x"] = 1
    assert b.metrics == {}


@pytest.mark.parametrize("score, expected", [
    (float("nan"), "score is not finite (NaN)"),
    (float("inf"), "score is not finite (+inf)"),
    (-float("inf"), "score is not finite (-inf)"),
    (True, "score is bool, expected a float"),
    ("1.0", "score is str, expected a float"),
    (None, "score is missing (None) for a valid Result"),
    ([1.0], "score is list, expected a float"),
])
def test_result_problem(score, expected):
    assert Result(score=score).problem() == expected


def test_result_accepts_numpy_and_int_scores():
    assert Result(score=np.float32(2.5)).problem() is None
    assert Result(score=np.int64(3)).problem() is None
    assert Result(score=7).problem() is None
    assert Result(score=np.bool_(True)).problem() in (
        "score is bool_, expected a float", "score is bool, expected a float")


def test_result_json_roundtrip():
    r = Result(score=np.float64(2.5), feedback="ok", metrics={"n": np.int64(26), "name": "x"},
               private_score=1.25, artifacts={"log": "hello"})
    data = json.loads(json.dumps(r.to_json()))
    back = Result.from_json(data)
    assert back == Result(score=2.5, feedback="ok", metrics={"n": 26, "name": "x"},
                          private_score=1.25, artifacts={"log": "hello"})
    assert type(back.metrics["n"]) is int
    nan = Result.from_json(json.loads(dumps(Result(score=float("nan")).to_json())))
    assert math.isnan(nan.score)
    with pytest.raises(ValueError, match="unknown Result fields"):
        Result.from_json({"score": 1, "bogus": 2})


def test_codec_plain_values():
    value = {"a": [1, 2.5, None, True, "s", [[]]], "t": (1, (2, 3)), "neg": -0.0,
             "big": 2**80, "nested": {"deep": [{"x": 1}]}}
    back = roundtrip(value)
    assert back["t"] == [1, [2, 3]]  # tuples become lists
    assert back["big"] == 2**80 and back["a"] == value["a"] and back["nested"] == value["nested"]


def test_codec_nan_inf_survive():
    back = roundtrip([float("nan"), float("inf"), -float("inf")])
    assert math.isnan(back[0]) and back[1] == math.inf and back[2] == -math.inf


@pytest.mark.parametrize("arr", [
    np.arange(12, dtype=np.float64).reshape(3, 4),
    np.array([1.5, np.nan, np.inf], dtype=np.float32),
    np.array([[True, False]]),
    np.array([1 + 2j, 3 - 4j]),
    np.array(3.25),  # 0-d
    np.zeros((0, 3), dtype=np.int16),
    np.arange(20, dtype=">i4")[::3],  # non-contiguous, big-endian
    np.array(["ab", "c"]),
])
def test_codec_numpy_arrays(arr):
    back = roundtrip({"x": arr})["x"]
    assert isinstance(back, np.ndarray)
    assert back.shape == arr.shape and back.dtype == arr.dtype
    np.testing.assert_array_equal(back, arr)
    assert back.flags.writeable


def test_codec_numpy_scalars_bytes_complex_and_keys():
    back = roundtrip({"i": np.int64(5), "f": np.float32(0.5), "b": b"\x00\xff", "c": 1j,
                      "k": {1: "one", (2, 3): "pair"}, "tag": {"__ndarray__": "not really"}})
    assert back["i"] == 5 and type(back["i"]) is int
    assert back["f"] == 0.5 and back["b"] == b"\x00\xff" and back["c"] == 1j
    assert back["k"] == {1: "one", (2, 3): "pair"}
    assert back["tag"] == {"__ndarray__": "not really"}  # user keys that look like tags


def test_codec_rejects_objects_with_a_path():
    class Thing:
        pass

    with pytest.raises(EncodeError, match=r"value\['a'\]\[1\] is a .*Thing object"):
        encode({"a": [1, Thing()]})
    with pytest.raises(EncodeError, match="set"):
        encode({1, 2})
    with pytest.raises(EncodeError, match="dtype=object"):
        encode(np.array([object()]))
