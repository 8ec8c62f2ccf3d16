"""One warm call's sandbox at the bwrap level: what cold bubblewrap gives a candidate, rebuilt
per call inside a zygote that bwrap started once.

Why: a cold bwrap call costs ~90 ms here (bwrap, then a fresh interpreter importing numpy). The
zygote (`_zygote.py --bwrap`) runs as uid 0 of bwrap's user namespace, keeping its capabilities
*there* only (they mean nothing outside the namespaces bwrap made), with the same read-only
system folders as a cold call plus the host's scratch root (the temp folder that holds every
candidate's folder); its own code came as text on its stdin. Per call, in the call's fresh mount, pid, network,
IPC, UTS and cgroup namespaces, this module:

1. mounts a fresh /proc (the call's processes only), read-only in the end as a cold call's
   (``--remount-ro /proc``: bwrap's own covers of /proc/sys are skipped when it runs as root,
   and a candidate then owned every host sysctl);
2. mounts fresh size-capped tmpfs on /tmp (and on the scratch
   root when it is elsewhere) and /dev/shm, a fresh devpts, so nothing of another call is
   reachable and no other candidate's folder is visible;
3. binds back only this call's folders: its work dir read-write, its runtime dir and the Python
   installation (when it lives under the scratch root) read-only, all nosuid and nodev;
4. makes /, /dev and the host's device nodes bwrap bound in /dev read-only for this call
   (bwrap's root and /dev are shared by the zygote's calls: no call may leave a file there for
   the next; a read-only device node is still written and read, but its mode and times, which
   a candidate owns when evoforge runs as root, cannot be changed);
5. enters a user namespace of its own as uid/gid 65534 (what a cold bwrap call is), then
   no_new_privs, the seccomp filter of a cold bwrap call and no capabilities at all.

The mounts belong to bwrap's user namespace, so the candidate, in a child user namespace with no
capabilities, can neither unmount nor remount any of them. Standard library only: the zygote
loads this file by path, as it loads `lockdown.py`.
"""
import ctypes
import fcntl
import os
import socket
import struct

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 0x4000, 0x40000
CLONE_NEWCGROUP, CLONE_NEWUSER = 0x02000000, 0x10000000
PR_SET_NO_NEW_PRIVS = 38
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 1
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")   # the host nodes of bwrap --dev
CANDIDATE_ID = 65534
_libc = ctypes.CDLL(None, use_errno=True)
_old_proc: list[int] = []   # the zygote's /proc and our pid in it: where our uid_map is written


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                       flags, data.encode() if data else None), f"mount {target}")


def _read_only(path: str, lockdown: object) -> None:
    """Remount the mount at `path` read-only, keeping the flags a remount must keep."""
    _mount("none", path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | lockdown.remount_flags(path))


def mount_proc() -> None:
    """A private mount tree and a fresh /proc for the call's pid namespace (the zygote's /proc
    is kept open first: `become_candidate_user` writes our uid_map there, ours is read-only)."""
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    _old_proc[:] = [os.open("/proc", os.O_PATH | os.O_DIRECTORY), int(os.readlink("/proc/self"))]
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _bind_back(fd: int, target: str, writable: bool, lockdown: object) -> None:
    os.makedirs(target, mode=0o755, exist_ok=True)
    _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (0 if writable else MS_RDONLY)
    _mount("none", target, None, flags | lockdown.remount_flags(target))   # keep locked flags


def loopback_up() -> None:
    """The call's network namespace has only `lo`; bwrap brings it up (connecting to a closed
    local port is refused, not unreachable), so does a warm call."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)   # struct ifreq: name, flags
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def build_view(mounts: dict, lockdown: object) -> None:
    """Steps 2-4 of the module docstring, for one call (`mounts` is the call's header part:
    root, rw, ro, tmpfs bytes)."""
    # its root: the call's cgroup (it was moved there); a kernel without cgroup namespaces
    # refuses, and the call keeps the zygote's, as `bwrap --unshare-cgroup-try` would
    _libc.unshare(CLONE_NEWCGROUP)
    loopback_up()
    root = mounts["root"]
    keep = [(path, True) for path in mounts["rw"]] + [(path, False) for path in mounts["ro"]]
    fds = []
    for path, writable in sorted(keep, key=lambda item: len(item[0])):
        fds.append((os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW), path, writable))
    size = f"size={int(mounts['tmpfs'])},mode=0755"   # as bwrap's: the candidate owns it
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, size)
    if root != "/tmp" and not root.startswith("/tmp/"):
        _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1048576,mode=0755")
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, size)
    _mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
           "newinstance,ptmxmode=0666,mode=620")
    for fd, path, writable in fds:
        _bind_back(fd, path, writable, lockdown)
        os.close(fd)
    for path in ["/", "/dev", "/proc"] + [f"/dev/{name}" for name in DEVICES]:
        if path in ("/", "/dev", "/proc") or os.path.exists(path):
            _read_only(path, lockdown)


def become_candidate_user() -> None:
    """A user namespace of the call's own, mapping uid/gid 65534 to the zygote's 0: the
    candidate is who a cold bwrap call is, with no capability in any namespace it can use."""
    try:
        os.setgroups([])   # no supplementary group of the zygote's survives
    except OSError:
        pass   # bwrap denied setgroups in its namespace: the zygote holds none then
    _check(_libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
    proc_fd, pid = _old_proc
    try:
        for name, text in (("uid_map", f"{CANDIDATE_ID} 0 1"), ("setgroups", "deny"),
                           ("gid_map", f"{CANDIDATE_ID} 0 1")):
            fd = os.open(f"{pid}/{name}", os.O_WRONLY, dir_fd=proc_fd)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
    finally:
        os.close(proc_fd)
        _old_proc.clear()
    os.setresgid(CANDIDATE_ID, CANDIDATE_ID, CANDIDATE_ID)
    os.setresuid(CANDIDATE_ID, CANDIDATE_ID, CANDIDATE_ID)


def lock_down(lockdown: object, seccomp: object, use_seccomp: bool) -> None:
    """no_new_privs, cold bwrap's seccomp filter (AF_UNIX allowed: the namespaces and mounts
    already confine unix sockets), and no capabilities."""
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    if use_seccomp:
        seccomp.install(seccomp.build_filter(deny_families=()))
    lockdown.drop_capabilities(_libc)
