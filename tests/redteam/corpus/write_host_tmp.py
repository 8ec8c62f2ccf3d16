# ATTACK: drop a file into the host's /tmp (a foothold for later, or a message to a colluding
#   candidate).
# EXPECT: status=ok reason="^$" -- under bwrap /tmp is a private tmpfs: the write "works" but
#   nothing appears on the host
# EXPECT[unshare,none]: status=ok breach=host_file -- the host file system is writable at this
#   level (documented for none; for unshare the description only says "CAN READ")
# EXPECT[landlock]: status=error reason="candidate raised (PermissionError: \[Errno 13\] Permission denied|OSError: \[Errno 30\] Read-only file system)" -- /tmp is
#   not writable under Landlock (TMPDIR points at the work dir instead)
# LINT: files
def attack(ctx):
    with open(ctx.get("host_tmp_file", "/tmp/evoforge-redteam-drop"), "w") as fh:
        fh.write("BREACH:host-tmp")
    return 0.5
