# ATTACK: open the run's SQLite database (its path guessed or given) and write a fake
#   best program into it.
# EXPECT: status=error reason="candidate raised OperationalError: unable to open database file"
# EXPECT[unshare,none]: status=ok breach=db_modified -- the run folder is writable at this level
import os
import sqlite3


def attack(ctx):
    path = ctx.get("db") or os.path.join(os.readlink(f"/proc/{os.getppid()}/cwd"), "..",
                                         "run.db")
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS planted (note TEXT)")
    db.execute("INSERT INTO planted VALUES ('BREACH:database')")
    db.commit()
    db.close()
    return 0.5
