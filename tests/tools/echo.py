#!/usr/bin/python3
"""An echo server for the route tests and bench-net: echo.py PORT ADDR... serves on each
address (IPv4 or IPv6) until killed, echoing every byte back until the client half-closes."""
import socket
import socketserver
import sys
import threading


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                break
            self.request.sendall(data)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class Server6(Server):
    address_family = socket.AF_INET6


port = int(sys.argv[1])
servers = [(Server6 if ":" in a else Server)((a, port), Echo) for a in sys.argv[2:]]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
