# ATTACK: talk to host services through unix sockets - a path-based one (think docker.sock,
#   ssh-agent, D-Bus) and an abstract one - which a network namespace alone does not cover.
# EXPECT: status=error reason="candidate raised (FileNotFoundError|ConnectionRefusedError): \[Errno (2|111)\]"
# EXPECT[unshare]: status=ok breach=network -- unshare hides the network but not the file
#   system: path-based unix sockets of the host (docker.sock!) stay reachable
# EXPECT[none]: status=ok breach=network -- plain subprocess level: no isolation (documented)
# EXPECT[landlock]: status=error reason="candidate raised PermissionError: \[Errno 1\] Operation not permitted"
#   -- seccomp refuses socket(AF_UNIX): Landlock does not filter connect() to a path socket
# LINT: network
import socket


def attack(ctx):
    reached = []
    for address in (ctx.get("unix_socket", "/var/run/docker.sock"),
                    "\0" + ctx.get("abstract_socket", "evoforge")):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(address)
            sock.sendall(b"BREACH:unix-socket")
            reached.append(address)
        except OSError:
            if not address.startswith("\0"):
                raise
        finally:
            sock.close()
    return 0.5 if reached else 0.4
