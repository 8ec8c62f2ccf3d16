# ATTACK: leave a grandchild holding stdout/stderr open (so EOF never comes) and then spin:
#   an evaluator that waits for EOF would hang forever.
# EXPECT: status=timeout reason="candidate timed out after 1\.0s in attack\(\)"
# SETUP: call_timeout=1
# LINT: process
import subprocess
import sys


def attack(ctx):
    marker = ctx.get("marker", "evoforge-redteam-holder")
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", marker])
    while True:
        pass
