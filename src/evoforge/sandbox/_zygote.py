"""The warm sandbox's zygote: ``python -B _zygote.py [--bwrap] [--no-numpy] CONTROL_FD 3``, started inside
the sandbox. The last argument is the descriptor every call's result pipe gets, last on the
command line as on the cold worker's (``worker.py PROGRAM RESULT_FD``): a candidate finds the
same things in /proc/self/cmdline either way.

Why: a cold candidate call starts unshare, the trusted launcher's interpreter and the worker's
interpreter (~60-85 ms here). The zygote is started once, inside the level's namespaces,
imports what candidates commonly need (numpy, the worker's codec) and then only ever forks:
it never runs candidate code, never sees a call's arguments (they go straight from the parent
to the call's process through its own stdin pipe) and never sees a result.

Per request (one SOCK_SEQPACKET message: a JSON header and six descriptors the parent made
for this call alone: stdin, stdout, stderr, result, go, reply) it forks a *middle* process
that unshares fresh mount, pid, network, IPC and UTS namespaces and forks the call's *init*
(pid 1 of the new pid namespace). The middle process sends the init's pidfd to the parent on
the call's reply socket, waits for it with wait4 and sends its exit status and rusage, then
exits. The init mounts a fresh /proc, waits for the parent's "go" byte (the parent first
moves it into the call's cgroup), moves the call's pipes to 0, 1, 2 and 3, closes every other
descriptor, applies the call's rlimits and then *exactly* the cold launcher's lock-down
(`lockdown.lock_down` with `isolation.launcher_options`: a private capped /dev/shm, Landlock
limited to the call's own work dir, seccomp, no capabilities) and forks the candidate process,
reaping until it ends (as the cold launcher does as pid 1). The candidate process runs the
call worker in-process (`_call_worker.main`) or execs the command of `Candidate.run`.

With ``--bwrap`` (a zygote started by bubblewrap, `warm_bwrap.py`) the init builds instead
what cold bwrap gives a candidate (`bwrap_call.py`: fresh /proc, /tmp, /dev/shm and devpts,
only the call's own folders bound back, / and /dev read-only, uid 65534 in a user namespace
of its own, cold bwrap's seccomp filter, no capabilities). The mode is the zygote's, fixed
when it starts: no request can choose it.

When a landlock zygote ends (its control socket closed, or killed) the kernel kills its whole
pid namespace, every call's namespace included (under bwrap, see `warm.py`). Each request is
received by the forked middle process, never by the zygote (`_serve_one`). Standard library
only, plus five files of this folder loaded under private names (a candidate's own ``seccomp.py`` must not find ours in
sys.modules).
"""
import ctypes
import importlib.util
import json
import os
import select
import signal
import socket
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 0x4000, 0x40000
RESULT_FD = 3
REPLY_FD = 4   # the init's copy of the call's reply socket, after the move (never the candidate's)
MAX_REQUEST_BYTES = 1 << 16   # a request's header; the parent runs a call cold past it
EXIT_SETUP_FAILED = 125
_libc = ctypes.CDLL(None, use_errno=True)


# bwrap: nothing of evoforge is mounted in the zygote's view (a call's view is exactly a cold
# call's), so the parent sends this file and its helpers as text (`warm_bwrap.BOOT`)
_SOURCES = globals().get("ZYGOTE_SOURCES")


def _load(name: str) -> object:
    path = os.path.join(HERE, f"{name}.py")
    if _SOURCES is not None:
        module = types.ModuleType(f"evoforge_zygote_{name}")
        module.__file__ = path
        exec(compile(_SOURCES[name], path, "exec"), module.__dict__)   # noqa: S102 - our own files
        return module
    spec = importlib.util.spec_from_file_location(f"evoforge_zygote_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lockdown = _load("lockdown")
bwrap_call = _load("bwrap_call")
BWRAP = "--bwrap" in sys.argv   # this zygote's mode (see the module docstring)
landlock = _load("landlock")
seccomp = _load("seccomp")
worker = _load("_call_worker")
sys.path[0] = "/nonexistent"   # the candidate process puts its program dir here
numpy = None
if "--no-numpy" not in sys.argv:   # the lean zygote, for calls with a small memory limit
    try:
        # the point of a zygote: imported once, not once per call
        import numpy
        import numpy.random
    except ImportError:  # pragma: no cover - numpy is optional
        numpy = None
import resource  # the call's init sets rlimits with it
import traceback  # noqa: F401 - what the worker imports per call


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _vm_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1])
    return 0


def _move_fds(fds: list[int]) -> None:
    """stdin, stdout, stderr, result, reply -> 0, 1, 2, 3, 4 (via high numbers: no
    clobbering), every other descriptor closed."""
    high = [os.dup(fd) for fd in fds]
    for target, fd in enumerate(high):
        os.dup2(fd, target, inheritable=True)
    os.closerange(len(fds), 1 << 16)


def _report_setup_failure(reply_fd: int, why: str) -> None:
    """Tell the parent, on the call's reply socket, that the call's sandbox could not be set
    up, before any candidate code ran: it runs the call cold instead. Only the init holds this
    socket (the candidate never does), so no candidate can forge the message."""
    try:
        with socket.socket(fileno=os.dup(reply_fd)) as sock:
            sock.send(json.dumps({"setup_failed": why[:500]}).encode())
    except OSError:
        pass


def _call_init(header: dict, fds: list[int]) -> None:
    """pid 1 of the call's namespaces: set up, lock down, fork the candidate, reap."""
    stdin, stdout, stderr, result, go, reply = fds
    err_fd = stderr   # the call's stderr: this descriptor until the move, then 2
    try:
        os.setsid()
        if BWRAP:
            bwrap_call.mount_proc()
        else:
            _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
            _check(_libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                               None), "mount /proc")
        if os.read(go, 1) != b"g":   # the parent gave up (or died) before the call started
            os._exit(EXIT_SETUP_FAILED)
        if BWRAP:   # after "go": the parent moved us into the call's cgroup (its namespace's root)
            bwrap_call.build_view(header["mounts"], lockdown)
            bwrap_call.become_candidate_user()
        _move_fds([stdin, stdout, stderr, result, reply])
        err_fd, reply = 2, REPLY_FD
        os.chdir(header["work_dir"])
        for res, soft, hard in header["rlimits"]:
            try:
                resource.setrlimit(res, (soft, hard))
            except (ValueError, OSError):
                pass
        if BWRAP:
            bwrap_call.lock_down(lockdown, seccomp, bool(header["mounts"].get("seccomp")))
        else:
            lockdown.lock_down(lockdown.parse(list(header["lockdown"]) + ["--", "x"]),
                               landlock, seccomp)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        try:
            os.write(err_fd, f"evoforge warm sandbox: {exc}\n".encode())
            _report_setup_failure(reply, str(exc))
        finally:
            os._exit(EXIT_SETUP_FAILED)
    os.close(reply)   # the candidate never holds it
    # pid 1 ignores what it does not handle: a candidate's kill(1, SIGINT) must not end the call
    # through the init's inherited KeyboardInterrupt handler (its own process gets it back)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    child = os.fork()
    if child == 0:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _candidate(header)
    lockdown.init_loop(child)


def _candidate(header: dict) -> None:
    """The candidate's process: the call worker in-process, or the command of `run()`."""
    try:
        if not BWRAP:   # as cold bwrap: the candidate stays in its init's session and group
            os.setpgid(0, 0)   # its own process group: a killpg of it ends the call, not the init
        os.environ.clear()
        os.environ.update(header["env"])
        if numpy is not None:
            numpy.random.seed()   # fresh entropy per call, as a fresh interpreter would have
        argv = header.get("argv")
        if argv:
            os.execvpe(argv[0], argv, dict(header["env"]))
        worker.main(["evoforge_call_worker.py", header["program"], str(RESULT_FD)])
    except OSError as exc:
        os.write(2, f"evoforge sandbox launcher: cannot run: {exc.strerror}\n".encode())
        os._exit(127 if isinstance(exc, FileNotFoundError) else 126)
    except BaseException as exc:  # noqa: BLE001 - never fall back into the zygote's code
        try:
            os.write(2, f"evoforge warm sandbox: {type(exc).__name__}: {exc}\n".encode())
        finally:
            os._exit(1)
    os._exit(0)


def _middle(header: dict, fds: list[int]) -> None:
    """Between the zygote and the call's init: new namespaces, the pidfd and the status."""
    reply = socket.socket(fileno=os.dup(fds[5]))
    try:
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
                             | CLONE_NEWUTS), "unshare")
        child = os.fork()
        if child == 0:
            reply.close()
            _call_init(header, fds)
            os._exit(EXIT_SETUP_FAILED)  # pragma: no cover - _call_init never returns
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(child)
        socket.send_fds(reply, [b"P"], [pidfd])
        _watch(pidfd, reply)
        os.close(pidfd)
        _, status, usage = os.wait4(child, 0)
        reply.send(json.dumps({"status": status, "cpu": usage.ru_utime + usage.ru_stime,
                               "maxrss": usage.ru_maxrss * 1024}).encode())
    except OSError as exc:
        try:
            reply.send(json.dumps({"error": str(exc)}).encode())
        except OSError:
            pass
    os._exit(0)


def _watch(pidfd: int, reply: socket.socket) -> None:
    """Wait until the call ends; kill it when its caller is gone first (the reply socket hangs
    up: the evaluator host was killed), so no call outlives the one that made it."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(reply.fileno(), select.POLLIN | select.POLLHUP)
    while True:
        for fd, _ in poller.poll():
            if fd == pidfd:
                return
            try:
                gone = reply.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            if gone:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                return
            poller.unregister(reply.fileno())   # a stray message: keep waiting for the end


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _serve_one(control: socket.socket) -> bool:
    """Fork a middle process that takes the next request off the control socket itself, so
    the zygote never holds a request: what one call was asked (a `run()` argv, its folder)
    cannot sit in the zygote's memory for every later call's fork to read. False when the
    parent closed the socket (the zygote is shut down) or it broke."""
    taken_r, taken_w = os.pipe()
    try:
        pid = os.fork()
    except OSError:   # no process to spare now: the request waits, the parent retries or gives up
        os.close(taken_r)
        os.close(taken_w)
        return True
    if pid == 0:
        os.close(taken_r)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        try:
            data, fds, _, _ = socket.recv_fds(control, MAX_REQUEST_BYTES, 6)
        except OSError:
            data, fds = None, []
        os.write(taken_w, b"T" if data else b"E")   # the zygote may listen again
        os.close(taken_w)
        control.close()
        try:
            header = json.loads(data) if data and len(fds) == 6 else None
        except ValueError:
            header = None
        if isinstance(header, dict):
            _middle(header, fds)
        for fd in fds:
            os.close(fd)
        os._exit(0)
    os.close(taken_w)
    try:
        taken = os.read(taken_r, 1)
    finally:
        os.close(taken_r)
    return taken != b"E"   # b"": the child died before taking it, the request is still queued


def main(argv: list[str]) -> None:
    import gc

    # Everything imported so far is shared with every call: frozen, the children's garbage
    # collector never touches (so never copies) those pages.
    gc.collect()
    gc.freeze()
    if argv[-1] != str(RESULT_FD):
        raise SystemExit(f"usage: _zygote.py [--no-numpy] CONTROL_FD {RESULT_FD}")
    control = socket.socket(fileno=int(argv[-2]))
    control.send(json.dumps({"ready": True, "vm_kib": _vm_kib(), "pid": os.getpid()}).encode())
    while True:
        _reap()
        readable, _, _ = select.select([control], [], [], 1.0)
        if readable and not _serve_one(control):
            break
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
