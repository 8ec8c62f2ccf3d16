# ATTACK: monkeypatch time (time.time, monotonic, perf_counter, sleep) so that it looks fast:
#   a speed-scored task that trusted the candidate's clock would be fooled.
# EXPECT: status=ok reason="^$"
# CHECK: min_elapsed=0.4
import time

_sleep = time.sleep


def attack(ctx):
    for name in ("time", "monotonic", "perf_counter", "process_time"):
        setattr(time, name, lambda: 0.0)
    time.sleep = lambda s: None
    _sleep(0.5)  # really slow
    return 0.5
