#!/usr/bin/python3
"""Opens N idle aero-l2-tunnel-v1 WebSocket tunnels to an aero-l2-proxy and holds them open.

Usage: l2_idle_tunnels.py URL COUNT HOLD_SECONDS
Prints "connected COUNT" once every tunnel is up (the caller then reads the proxy's resident
memory), keeps them open until HOLD_SECONDS have passed or stdin closes, and closes them.
Connections are opened 200 at a time so that the proxy's accept queue never overflows.
Uses Debian's python3-websockets (a client aero-net did not write).
"""
import asyncio
import sys

import websockets


async def open_tunnel(url):
    return await websockets.connect(url, subprotocols=["aero-l2-tunnel-v1"], open_timeout=60,
                                    ping_interval=None, max_size=1 << 16)


async def main(url, count, hold_seconds):
    tunnels = []
    batch = 200
    for start in range(0, count, batch):
        tunnels += await asyncio.gather(*(open_tunnel(url) for _ in range(min(batch, count - start))))
    print(f"connected {len(tunnels)}", flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    await asyncio.wait([stdin_closed], timeout=hold_seconds)
    await asyncio.gather(*(t.close() for t in tunnels), return_exceptions=True)
    print("closed", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
