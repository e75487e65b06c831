#!/usr/bin/python3
"""Short TCP streams for the route tests and bench-net: streams.py ADDR PORT N opens N
connections one after another, sends each about 550 bytes, half-closes, reads the echo and
closes; prints "bad B total_s S median_ms M" (B streams whose echo differed)."""
import socket
import statistics
import sys
import time

addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
bad, times, t0 = 0, [], time.time()
for i in range(n):
    a = time.time()
    s = socket.create_connection((addr, port))
    msg = ("stream %d " % i).encode() * 50
    s.sendall(msg)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    bad += got != msg
    times.append(time.time() - a)
print("bad %d total_s %.2f median_ms %.3f" % (bad, time.time() - t0, statistics.median(times) * 1000))
