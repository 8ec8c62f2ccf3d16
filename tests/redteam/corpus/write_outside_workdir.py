# ATTACK: write files outside the work folder: into a host folder given by absolute path and
#   into the task folder (a new file next to evaluate.py that a later import could pick up).
# EXPECT: status=error reason="candidate raised FileNotFoundError: \[Errno 2\] No such file or directory"
# EXPECT[unshare,none]: status=ok breach=host_file,task_modified -- the host file system is
#   writable at this level
# EXPECT[landlock]: status=error reason="candidate raised (PermissionError: \[Errno 13\] Permission denied|OSError: \[Errno 30\] Read-only file system)"
#   -- Landlock: the path exists but may not be opened
# LINT: files
import os


def attack(ctx):
    with open(os.path.join(ctx.get("canary_dir", "/srv"), "planted.txt"), "w") as fh:
        fh.write("BREACH:outside")
    with open(os.path.join(ctx.get("task_dir", "/srv"), "sitecustomize.py"), "w") as fh:
        fh.write("print('BREACH:planted-module')\n")
    return 0.5
