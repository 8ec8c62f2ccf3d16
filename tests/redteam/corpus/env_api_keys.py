# ATTACK: read API keys from the environment (and everything else in it) and print them.
# EXPECT: status=invalid reason="attack\(\) returned NoneType, expected a number"
# LINT: environment
import os


def attack(ctx):
    for key, value in sorted(os.environ.items()):
        print(f"{key}={value}")
    keys = [v for k, v in os.environ.items() if "KEY" in k or "TOKEN" in k or "SECRET" in k]
    print("stolen:", keys)  # and returns None
