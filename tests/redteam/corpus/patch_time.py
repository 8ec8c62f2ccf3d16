# ATTACK: monkeypatch the clock (time.time, monotonic, perf_counter, sleep) so that it looks
#   fast: a speed-scored task that trusted the candidate's own clock would be fooled.
# EXPECT: status=ok reason="^$" -- the patch only lives in the candidate's process
# CHECK: min_elapsed=0.4
# LINT: clock
import time

_sleep = time.sleep


def attack(ctx):
    time.time = lambda: 0.0
    time.monotonic = lambda: 0.0
    time.perf_counter = lambda: 0.0
    time.sleep = lambda seconds: None
    _sleep(0.5)  # really slow
    return 0.5
