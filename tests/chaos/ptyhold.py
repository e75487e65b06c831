#!/usr/bin/env python3
"""A chaos session whose stdin, stdout and stderr are a terminal nobody reads for a while.

    ptyhold.py DIR I HOST MODE STALL N

Runs `ssh HOST 'head -c N /dev/zero | tr "\\0" x; exit K'` (K = I % 5) on the slave side of a
new pty, run as the test account with the shim preloaded. MODE:
  noread   the master side is not read for STALL seconds (a terminal that stopped reading)
  ctrl-s   once the first bytes have arrived, ^S is typed (the tty stops its output, as a
           user's Ctrl-S does), and ^Q after STALL seconds
Then the master is read to the end. Writes DIR/I.out (sha256sum of the bytes read, in
sha256sum's format), DIR/I.err (nothing: stderr is the terminal) and DIR/I.res
("EXIT START_MS END_MS")."""
import hashlib
import os
import pty
import select
import sys
import time

d, i, host, mode, stall, n = sys.argv[1:7]
stall, n, k = float(stall), int(n), int(i) % 5


def ms():
    return int(time.time() * 1000)


t0 = ms()
pid, fd = pty.fork()
if pid == 0:
    try:
        os.execvp("ssh", ["ssh", host, "head -c %d /dev/zero | tr '\\0' x; exit %d" % (n, k)])
    finally:
        os._exit(127)

h = hashlib.sha256()
deadline = time.monotonic() + 300  # a hang detector: the caller checks the result


def read_some(timeout):
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return b""
    try:
        b = os.read(fd, 65536)
    except OSError:  # EIO: every slave fd is closed
        return None
    return b if b else None


if mode == "ctrl-s":
    got = b""
    while not got and time.monotonic() < deadline:
        got = read_some(0.1)
        if got is None:
            break
    if got:
        h.update(got)
    os.write(fd, b"\x13")
    time.sleep(stall)
    os.write(fd, b"\x11")
    done = got is None
else:
    time.sleep(stall)
    done = False
while not done and time.monotonic() < deadline:
    b = read_some(1.0)
    if b is None:
        break
    h.update(b)
if time.monotonic() >= deadline:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
rc = os.waitstatus_to_exitcode(status)
if rc < 0:
    rc = 128 - rc
with open(os.path.join(d, i + ".out"), "w") as f:
    f.write(h.hexdigest() + "  -\n")
open(os.path.join(d, i + ".err"), "w").close()
with open(os.path.join(d, i + ".res"), "w") as f:
    f.write("%d %d %d\n" % (rc, t0, ms()))
