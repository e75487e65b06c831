#!/usr/bin/env python3
"""A terminal for tests/fault/stall.sh: runs CMD with a new pty as its stdin, stdout and
stderr (and controlling terminal), and reports the file status flags (F_GETFL) of the
terminal's open file description, the one a user's shell shares, before, during and after.

  ptyrun.py stop DIR -- CMD...   ^S on the terminal and its master not read: once output has
                                 stalled, DIR/ready; waits for DIR/go, then ^Q and reads the
                                 master (output must flow again), ends CMD (SIGTERM)
  ptyrun.py type DIR -- CMD...   types "hello" and a newline into the terminal; reads the
                                 master until CMD prints "got:hello" or 20 s pass

Prints "flags BEFORE DURING AFTER" (hex) and, for stop, "flowed N" (bytes read after ^Q),
for type, "typed 1" or "typed 0"."""
import fcntl
import os
import select
import signal
import sys
import termios
import time


def drain(master, seconds, want=None):
    """Bytes read from master within seconds (until want is seen, if given)."""
    got = b""
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([master], [], [], 0.05)
        if not r:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
        if want and want in got:
            break
    return got


def wait_file(path, seconds):
    end = time.time() + seconds
    while time.time() < end and not os.path.exists(path):
        time.sleep(0.02)
    return os.path.exists(path)


def main():
    mode, d = sys.argv[1], sys.argv[2]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    master, slave = os.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[0] |= termios.IXON  # ^S / ^Q stop and start output, as on a user's terminal
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    before = fcntl.fcntl(slave, fcntl.F_GETFL)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.close(master)
        os.execvp(cmd[0], cmd)
    during = after = None
    result = ""
    if mode == "stop":
        os.write(master, b"\x13")  # ^S
        # Output stalls once the terminal's buffers are full (nobody reads the master either).
        drain(master, 0.2)
        time.sleep(1.5)
        during = fcntl.fcntl(slave, fcntl.F_GETFL)
        open(os.path.join(d, "ready"), "w").close()
        wait_file(os.path.join(d, "go"), 120)
        during2 = fcntl.fcntl(slave, fcntl.F_GETFL)
        if during2 != before:
            during = during2
        os.write(master, b"\x11")  # ^Q
        result = "flowed %d" % len(drain(master, 1.0))
        os.kill(pid, signal.SIGTERM)
        drain(master, 0.5)
    else:
        time.sleep(0.5)
        os.write(master, b"hello\n")
        out = drain(master, 20, b"got:hello")
        during = fcntl.fcntl(slave, fcntl.F_GETFL)
        result = "typed %d" % (b"got:hello" in out)
    # Until CMD has gone (the broker closes its copies once its client is gone), reading the
    # master so that nothing waits on a full terminal.
    end = time.time() + 20
    while time.time() < end:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            break
        drain(master, 0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    drain(master, 0.5)  # the broker writes what it still holds, then closes its copies
    time.sleep(0.5)
    after = fcntl.fcntl(slave, fcntl.F_GETFL)
    print("flags %x %x %x" % (before, during, after))
    print(result)


if __name__ == "__main__":
    main()
