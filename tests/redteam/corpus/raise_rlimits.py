# ATTACK: lift its own limits (address space, CPU, processes) back to unlimited, then use them.
# EXPECT: status=error reason="candidate raised ValueError: not allowed to raise maximum limit"
# EXPECT[none+cap_sys_resource]: status=ok breach=reported -- plain subprocess level as root
#   with CAP_SYS_RESOURCE: rlimits can be raised again (documented: no isolation)
# LINT: limits
import resource


def attack(ctx):
    unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    for limit in (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_NPROC):
        resource.setrlimit(limit, unlimited)
    print("BREACH:rlimits raised")
    return 0.5
