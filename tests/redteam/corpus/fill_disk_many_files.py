# ATTACK: fill the disk with many files, each under the file size limit (RLIMIT_FSIZE caps one
#   file, not the total), then hide more in a file deleted while still open.
# EXPECT: status=error reason="disk limit exceeded \(\d+ MiB > disk_mb=32 in the candidate's work dir\)"
# SETUP: disk_mb=32 file_size_mb=512 call_timeout=120
# CHECK: max_seconds=60
# LINT: files
def attack(ctx):
    import os
    block = b"\0" * (1 << 20)
    for i in range(24):
        with open(f"filler-{i}.bin", "wb") as fh:
            fh.write(block)
    with open("hidden.bin", "wb") as fh:
        os.unlink("hidden.bin")
        while True:
            fh.write(block)
            fh.flush()
