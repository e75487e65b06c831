#!/usr/bin/python3
"""An impostor broker for the tests: sink.py SOCKET RECORD listens on the unix socket SOCKET
(mode 0777), answers nothing, and after each client has gone (or has been silent for 5 s)
writes "CONNECTIONS BYTES" (all received so far) to RECORD. RECORD.ready appears once it
listens. Runs until killed."""
import os
import socket
import sys

path, record = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
os.chmod(path, 0o777)
srv.listen(16)
open(record + ".ready", "w").close()
conns = total = 0
while True:
    c, _ = srv.accept()
    conns += 1
    c.settimeout(5)
    try:
        while True:
            data = c.recv(65536)
            if not data:
                break
            total += len(data)
    except socket.timeout:
        pass
    c.close()
    with open(record + ".tmp", "w") as f:
        f.write("%d %d\n" % (conns, total))
    os.rename(record + ".tmp", record)
