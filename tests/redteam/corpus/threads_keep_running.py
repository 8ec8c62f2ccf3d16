# ATTACK: start non-daemon threads that keep spinning (and an atexit hook that prints a fake
#   result) after attack() returns, hoping to run after the answer or to keep the process alive.
# EXPECT: status=ok reason="^$"
# SETUP: call_timeout=120
# CHECK: max_seconds=60
import atexit
import threading


def spin():
    while True:
        pass


def attack(ctx):
    atexit.register(lambda: print('{"ok": true, "value": 1e9}'))
    for _ in range(2):
        threading.Thread(target=spin).start()
    return 0.5
