#!/usr/bin/env python3
"""UDP echo server and lock-step client for the integration tests.

  udp_echo.py serve HOST PORT SECONDS     echo every datagram back, stop after SECONDS
  udp_echo.py send HOST PORT COUNT        send COUNT numbered datagrams one at a time, wait for
                                          each echo (1 s, 3 tries), print "received N/COUNT"
"""
import socket
import sys
import time


def serve(host: str, port: int, seconds: float) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data, peer = sock.recvfrom(65535)
        except socket.timeout:
            continue
        sock.sendto(data, peer)


def send(host: str, port: int, count: int) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((host, port))
    sock.settimeout(1.0)
    received = 0
    for n in range(count):
        payload = b"aero-%06d-" % n + bytes(range(n % 200))
        for _ in range(3):
            sock.send(payload)
            try:
                while sock.recv(65535) != payload:
                    pass  # a late echo of an earlier try
                received += 1
                break
            except socket.timeout:
                continue
    print(f"received {received}/{count}")
    return 0 if received == count else 1


if __name__ == "__main__":
    mode, host, port, arg = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if mode == "serve":
        serve(host, port, float(arg))
        sys.exit(0)
    sys.exit(send(host, port, int(arg)))
