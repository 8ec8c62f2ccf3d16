# ATTACK: the candidate's own environment is clean, so read the parent's (and any other
#   process') environment through /proc/<pid>/environ, where API keys live.
# EXPECT: status=ok reason="^$"
# EXPECT[none]: status=ok breach=leak -- plain subprocess level: other processes of the same
#   user are visible (the evaluator host inherits the engine's environment, API keys included)
# LINT: files
import os


def attack(ctx):
    pids = {os.getppid(), ctx.get("host_pid", 1)}
    pids.update(int(p) for p in os.listdir("/proc") if p.isdigit())
    for pid in sorted(pids):
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                variables = fh.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        loot = [v for v in variables if any(w in v.split("=")[0] for w in ("KEY", "TOKEN"))]
        if loot:
            print(pid, loot)
    return 0.5
