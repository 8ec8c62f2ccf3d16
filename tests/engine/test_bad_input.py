"""Every bad input a user can give gets a clear error (exit code 2, no traceback) and loses nothing."""
from __future__ import annotations


from evoforge.cli import main
from evoforge.testing.tasks import write_task


def _run(capsys, *argv):
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


def test_missing_task_folder(capsys, tmp_path):
    code, err = _run(capsys, "run", str(tmp_path / "nope"), "--quiet")
    assert code == 2 and "does not exist" in err and "Traceback" not in err


def test_task_folder_without_yaml(capsys, tmp_path):
    (tmp_path / "t").mkdir()
    code, err = _run(capsys, "run", str(tmp_path / "t"), "--quiet")
    assert code == 2 and "no task.yaml" in err


def test_malformed_yaml(capsys, tmp_path):
    t = write_task(tmp_path / "t", yaml="name: [unclosed\n")
    code, err = _run(capsys, "run", str(t), "--quiet")
    assert code == 2 and "not valid YAML" in err


def test_unknown_key_suggests(capsys, tmp_path):
    t = write_task(tmp_path / "t", yaml="name: t\nbudjet: {llm_calls: 3}\n")
    code, err = _run(capsys, "run", str(t), "--quiet")
    assert code == 2 and "did you mean 'budget'" in err


def test_missing_evaluator(capsys, tmp_path):
    t = write_task(tmp_path / "t")
    (t / "evaluate.py").unlink()
    code, err = _run(capsys, "run", str(t), "--quiet")
    assert code == 2 and "no evaluate.py" in err


def test_evaluator_without_function(capsys, tmp_path):
    t = write_task(tmp_path / "t", evaluate="def score(c):\n    return 1\n")
    code, err = _run(capsys, "run", str(t), "--quiet")
    assert code == 2 and "defines no function 'evaluate" in err


def test_evaluator_syntax_error(capsys, tmp_path):
    t = write_task(tmp_path / "t", evaluate="def evaluate(c)\n    return 1\n")
    code, err = _run(capsys, "run", str(t), "--quiet")
    assert code == 2 and "syntax error in the evaluator" in err


def test_unbalanced_markers(capsys, tmp_path):
    t = write_task(tmp_path / "t", initial="# EVOLVE-BLOCK-START\nx = 1\n")
    code, err = _run(capsys, "run", str(t), "--quiet")
    assert code == 2 and "EVOLVE-BLOCK" in err


def test_initial_program_syntax_error(capsys, tmp_path):
    t = write_task(tmp_path / "t", initial="# EVOLVE-BLOCK-START\nx = (\n# EVOLVE-BLOCK-END\n")
    code, err = _run(capsys, "run", str(t), "--quiet")
    assert code == 2 and "does not parse" in err


def test_bad_model_string(capsys, value_task, tmp_path):
    code, err = _run(capsys, "run", str(value_task), "--llm", "opneai/gpt-4o", "--quiet", "--run-dir", str(tmp_path / "r"))
    assert code == 2 and "openai" in err


def test_unwritable_storage(capsys, value_task, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = _run(capsys, "run", str(value_task), "--quiet", "--run-dir", str(blocker / "run"))
    assert code == 2 and "cannot" in err


def test_run_folder_reused(capsys, value_task, model_spec, tmp_path):
    main(["run", str(value_task), "--llm", model_spec, "--budget", "0", "--quiet", "--run-dir", str(tmp_path / "r")])
    capsys.readouterr()
    code, err = _run(capsys, "run", str(value_task), "--llm", model_spec, "--quiet", "--run-dir", str(tmp_path / "r"))
    assert code == 2 and "already holds a run" in err


def test_evaluator_errors_are_recorded_not_fatal(tmp_path, model_spec):
    import evoforge
    from evoforge.storage import open_storage

    for name, body, words in [
        ("raises", "def evaluate(c):\n    raise RuntimeError('evaluator bug')\n", "evaluator bug"),
        ("wrongtype", "def evaluate(c):\n    return 42\n", "Result"),
    ]:
        t = write_task(tmp_path / name, evaluate=body)
        result = evoforge.run(t, llm=model_spec, budget=0, run_dir=tmp_path / f"run-{name}")
        s = open_storage(result.storage_url, read_only=True)
        a = s.attempts(result.run_id)[0]
        s.close()
        assert a.status.value == "error" and words in a.reason


def test_show_unknown_id(capsys, value_task, model_spec, tmp_path):
    main(["run", str(value_task), "--llm", model_spec, "--budget", "0", "--quiet", "--run-dir", str(tmp_path / "r")])
    capsys.readouterr()
    code, err = _run(capsys, "show", str(tmp_path / "r"), "zzzz")
    assert code == 2 and "no attempt" in err


def test_not_a_run(capsys, tmp_path):
    code, err = _run(capsys, "best", str(tmp_path))
    assert code == 2 and "not a run folder" in err
