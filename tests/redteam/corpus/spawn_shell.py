# ATTACK: spawn `sh -c` to hunt for secrets with shell tools: its environment, the environment
#   of the process above the candidate (the evaluator host), history and credential files.
# EXPECT: status=ok reason="^$" -- the shell runs, but inside the same sandbox: nothing to find
# EXPECT[none]: status=ok breach=leak -- plain subprocess level: the evaluator host's /proc entry
#   is readable, and it inherited the engine's environment (API keys included)
# LINT: process
import subprocess


def attack(ctx):
    script = ('env; gp=$(cut -d" " -f4 /proc/$PPID/stat); echo "grandparent $gp"; '
              'tr "\\0" "\\n" < /proc/$gp/environ 2>/dev/null; '
              'cat ~/.bash_history ~/.netrc ~/.config/openai/* 2>/dev/null; echo done')
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=5,
                         check=False)
    print(out.stdout)
    return 0.5
