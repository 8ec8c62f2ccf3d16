# ATTACK: plant a package named `evoforge` in the task folder. The evaluator host runs as
#   `python -m evoforge.sandbox._host_worker` with the task folder as its cwd, and `-m` puts
#   the cwd first on sys.path: the next evaluation would run this code as the TRUSTED
#   evaluator and could report any score it likes.
# EXPECT: status=error reason="candidate raised FileNotFoundError: \[Errno 2\] No such file or directory"
# EXPECT[unshare,none]: status=ok breach=task_modified -- the task folder is writable at this
#   level; the engine's integrity check sees the new files before the next proposal (but see
#   tests/redteam/test_sandbox_holes.py: cascade stages of the same program run before it)
# EXPECT[landlock]: status=error reason="candidate raised (PermissionError: \[Errno 13\] Permission denied|OSError: \[Errno 30\] Read-only file system)"
#   -- Landlock: the path exists but may not be opened
# LINT: files
import os


def attack(ctx):
    task = ctx.get("task_dir") or os.readlink(f"/proc/{os.getppid()}/cwd")
    package = os.path.join(task, "evoforge", "sandbox")
    os.mkdir(os.path.dirname(package))  # the task folder itself must exist: no makedirs
    os.mkdir(package)
    forged = ("import os, sys\n"
              "os.write(int(sys.argv[1]), b'{\"status\": \"ok\", \"reason\": \"\", "
              "\"result\": {\"score\": 1.0}}')\n")
    for name, text in (("../__init__.py", ""), ("__init__.py", ""), ("_host_worker.py", forged)):
        with open(os.path.normpath(os.path.join(package, name)), "w") as fh:
            fh.write(text)
    return 0.5
