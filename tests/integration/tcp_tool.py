#!/usr/bin/env python3
"""Both ends of the TCP integration tests: a server for the host's loopback and the guest's
client (or the reverse, for inbound forwards).

The server speaks a one-line protocol per connection:
  DOWN n       send n bytes of the pattern, then close
  UP n         read to EOF, answer the SHA-256 of what arrived
  SLOWUP n     the same, reading slowly (the stack's window toward the guest closes)
  ECHO         echo until EOF
  HALFCLOSE    read to EOF (the client shut its side), then answer how much arrived
  SERVERFIN n  send n bytes and shut the write side, then read to EOF and log what arrived
  RST          close at once with a reset (SO_LINGER 0)
  WAITRST      wait for the client's reset and log what recv reported
The pattern is `yes LINE | head -c n` with LINE the numbers 1..1000 run together, so a
busybox guest can produce it too. Every outcome the test checks is printed on one line.
"""
import asyncio
import hashlib
import socket
import socketserver
import struct
import sys
import threading
import time

LINE = ("".join(str(i) for i in range(1, 1001)) + "\n").encode()


def pattern_chunks(n, chunk=1 << 20):
    block = LINE * (chunk // len(LINE) + 2)
    offset = 0
    while n > 0:
        start = offset % len(LINE)
        take = min(chunk, n)
        yield block[start:start + take]
        offset += take
        n -= take


def pattern_sha(n):
    h = hashlib.sha256()
    for part in pattern_chunks(n):
        h.update(part)
    return h.hexdigest()


def read_line(sock):
    data = b""
    while not data.endswith(b"\n") and len(data) < 100:
        part = sock.recv(1)
        if not part:
            break
        data += part
    return data.decode().strip()


def drain(sock, slow=False):
    h = hashlib.sha256()
    count = 0
    while True:
        data = sock.recv(4096 if slow else 1 << 20)
        if not data:
            return count, h.hexdigest()
        h.update(data)
        count += len(data)
        if slow:
            time.sleep(0.002)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        s.settimeout(120)
        try:
            words = read_line(s).split()
            if not words:
                return
            command, n = words[0], int(words[1]) if len(words) > 1 else 0
            if command == "DOWN":
                for part in pattern_chunks(n):
                    s.sendall(part)
                s.shutdown(socket.SHUT_WR)
                drain(s)
            elif command in ("UP", "SLOWUP"):
                count, digest = drain(s, slow=command == "SLOWUP")
                s.sendall(f"{count} {digest}\n".encode())
            elif command == "ECHO":
                while True:
                    data = s.recv(65536)
                    if not data:
                        break
                    s.sendall(data)
            elif command == "HALFCLOSE":
                count, _ = drain(s)
                s.sendall(f"after-eof {count}\n".encode())
            elif command == "SERVERFIN":
                for part in pattern_chunks(n):
                    s.sendall(part)
                s.shutdown(socket.SHUT_WR)
                count, _ = drain(s)
                print(f"server: after our FIN the client sent {count} bytes", flush=True)
            elif command == "RST":
                # Closed here, before socketserver's own shutdown() could send a FIN first.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            elif command == "WAITRST":
                try:
                    while s.recv(65536):
                        pass
                    print("server: clean EOF instead of a reset", flush=True)
                except ConnectionResetError:
                    print("server: saw the client's reset", flush=True)
        except OSError as error:
            print(f"server: {command if 'command' in dir() else '?'} error {error}", flush=True)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 2048


def serve(host, port, seconds):
    server = Server((host, int(port)), Handler)
    threading.Timer(float(seconds), server.shutdown).start()
    print(f"serving {host}:{port}", flush=True)
    server.serve_forever()


def connect(host, port):
    return socket.create_connection((host, int(port)), timeout=60)


def client(host, port, mode, *args):
    if mode == "down":
        n = int(args[0])
        s = connect(host, port)
        s.sendall(f"DOWN {n}\n".encode())
        start = time.time()
        count, digest = drain(s)
        ok = count == n and digest == pattern_sha(n)
        print(f"down {count} bytes {'ok' if ok else 'MISMATCH'} "
              f"{count / max(time.time() - start, 1e-6) / 1e6:.1f} MB/s", flush=True)
        return ok
    if mode in ("up", "slowup"):
        n = int(args[0])
        s = connect(host, port)
        s.sendall(f"{'UP' if mode == 'up' else 'SLOWUP'} {n}\n".encode())
        start = time.time()
        for part in pattern_chunks(n):
            s.sendall(part)
        s.shutdown(socket.SHUT_WR)
        answer = read_line(s).split()
        ok = answer == [str(n), pattern_sha(n)]
        print(f"{mode} {n} bytes {'ok' if ok else 'MISMATCH ' + ' '.join(answer)} "
              f"{n / max(time.time() - start, 1e-6) / 1e6:.1f} MB/s", flush=True)
        return ok
    if mode == "slowdown":
        # A small receive buffer read slowly: the guest's window closes, the stack persists.
        n = int(args[0])
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(60)
        s.connect((host, int(port)))
        s.sendall(f"DOWN {n}\n".encode())
        count, digest = drain(s, slow=True)
        ok = count == n and digest == pattern_sha(n)
        print(f"slowdown {count} bytes {'ok' if ok else 'MISMATCH'}", flush=True)
        return ok
    if mode == "halfclose":
        s = connect(host, port)
        s.sendall(b"HALFCLOSE\n" + b"x" * 100000)
        s.shutdown(socket.SHUT_WR)
        answer = read_line(s)
        ok = answer == "after-eof 100000"
        print(f"halfclose: server answered after our FIN: {answer!r} {'ok' if ok else 'WRONG'}",
              flush=True)
        return ok
    if mode == "serverfin":
        s = connect(host, port)
        s.sendall(b"SERVERFIN 50000\n")
        count, _ = drain(s)
        s.sendall(b"y" * 70000)  # our side is still open
        s.shutdown(socket.SHUT_WR)
        ok = count == 50000
        print(f"serverfin: got {count} bytes then EOF {'ok' if ok else 'WRONG'}", flush=True)
        return ok
    if mode == "rst-from-host":
        s = connect(host, port)
        s.sendall(b"RST\n")
        try:
            data = s.recv(100)
            print(f"rst-from-host: recv returned {data!r} WRONG", flush=True)
            return False
        except ConnectionResetError:
            print("rst-from-host: connection reset ok", flush=True)
            return True
    if mode == "rst-from-guest":
        s = connect(host, port)
        s.sendall(b"WAITRST\n")
        time.sleep(0.3)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        print("rst-from-guest: reset sent", flush=True)
        return True
    if mode == "refused":
        try:
            connect(host, port)
            print(f"refused: {host}:{port} accepted WRONG", flush=True)
            return False
        except ConnectionRefusedError:
            print(f"refused: {host}:{port} refused ok", flush=True)
            return True
    if mode == "many":
        return asyncio.run(many(host, int(port), int(args[0]), int(args[1])))
    raise SystemExit(f"unknown mode {mode}")


async def many(host, port, connections, size):
    """`connections` connections open at once, each downloading `size` bytes."""
    expected = pattern_sha(size)
    opened = 0
    all_open = asyncio.Event()

    async def one(index):
        nonlocal opened
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 60)
        opened += 1
        if opened == connections:
            all_open.set()
        await asyncio.wait_for(all_open.wait(), 120)
        writer.write(f"DOWN {size}\n".encode())
        await writer.drain()
        h = hashlib.sha256()
        count = 0
        while True:
            data = await asyncio.wait_for(reader.read(1 << 16), 120)
            if not data:
                break
            h.update(data)
            count += len(data)
        writer.close()
        return count == size and h.hexdigest() == expected

    start = time.time()
    results = await asyncio.gather(*(one(i) for i in range(connections)), return_exceptions=True)
    good = sum(1 for r in results if r is True)
    errors = [r for r in results if isinstance(r, BaseException)]
    print(f"many: {good}/{connections} connections of {size} bytes ok, all open at once, "
          f"{connections * size / (time.time() - start) / 1e6:.1f} MB/s"
          + (f", first error {errors[0]!r}" if errors else ""), flush=True)
    return good == connections


def main():
    if sys.argv[1] == "serve":
        serve(*sys.argv[2:5])
    elif sys.argv[1] == "client":
        sys.exit(0 if client(*sys.argv[2:]) else 1)
    elif sys.argv[1] == "sha":
        print(pattern_sha(int(sys.argv[2])))
    else:
        raise SystemExit("usage: tcp_tool.py serve HOST PORT SECONDS | client HOST PORT MODE ... | sha N")


if __name__ == "__main__":
    main()
