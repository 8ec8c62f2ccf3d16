# ATTACK: open a TCP connection to a service on 127.0.0.1 (the test runs a real listener) and
#   send it data; also send a UDP datagram. Exfiltration or calling home.
# EXPECT: status=error reason="candidate raised (OSError|ConnectionRefusedError): \[Errno (101|111)\]"
# EXPECT[none]: status=ok breach=network -- plain subprocess level: no network isolation (documented)
# EXPECT[landlock]: status=error reason="candidate raised (PermissionError|OSError): \[Errno (13|101)\]"
#   -- Landlock denies TCP connect (ABI >= 4) before the empty network namespace answers
# LINT: network
import socket


def attack(ctx):
    port, udp_port = ctx.get("port", 8080), ctx.get("udp_port", 8081)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        udp.sendto(b"BREACH:udp", ("127.0.0.1", udp_port))
    except OSError:
        pass
    with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
        conn.sendall(b"BREACH:network")
    return 0.5
