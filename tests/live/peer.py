#!/usr/bin/env python3
"""Real WebSocket peers for the live-capture tests (Python `websockets`).

  peer.py server PORT                 echo server on 127.0.0.1:PORT (runs until killed)
  peer.py load PORT CLIENTS MSGS      CLIENTS concurrent connections, MSGS echoed messages each
  peer.py tls-server PORT CERT KEY    the echo server over TLS (wss)
  peer.py tls-client PORT N KEYLOG    N messages as `client` does, over TLS (certificate not
                                      checked), the TLS secrets appended to KEYLOG as the
                                      handshake makes them (ssl keylog_filename)
  peer.py client PORT N [PAUSE]       sends N text messages "msg-<i>-<padding>", reads each
                                      echo, closes with 1000 "done"; with PAUSE seconds, it
                                      prints "PAUSED" after half of them and waits PAUSE
                                      seconds before the rest (so a capture can start
                                      mid-session). Prints each message sent, one per line.
"""
import asyncio
import ssl
import sys

import websockets


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def server(port):
    async with websockets.serve(echo, "127.0.0.1", port, compression=None, ping_interval=None):
        print("READY", flush=True)
        await asyncio.Future()


async def tls_server(port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    async with websockets.serve(echo, "127.0.0.1", port, ssl=ctx, compression=None, ping_interval=None):
        print("READY", flush=True)
        await asyncio.Future()


async def client(port, n, pause, keylog=None):
    ctx = None
    if keylog:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.keylog_filename = keylog
    scheme = "wss" if ctx else "ws"
    async with websockets.connect(f"{scheme}://127.0.0.1:{port}/live", ssl=ctx, compression=None, ping_interval=None) as ws:
        for i in range(n):
            if pause and i == n // 2:
                print("PAUSED", flush=True)
                await asyncio.sleep(pause)
            text = f"msg-{i}-" + "x" * (i * 37 % 300)
            await ws.send(text)
            assert await ws.recv() == text
            print(text, flush=True)
        if keylog:
            # The keys were written after the first records went by (what the test is
            # about); give wsscope's key log follower time to read them before the
            # connection ends, as a long-lived browser connection would.
            await asyncio.sleep(1.0)
        await ws.close(1000, "done")


async def load(port, clients, msgs):
    async def one(c):
        async with websockets.connect(f"ws://127.0.0.1:{port}/load", compression=None, ping_interval=None) as ws:
            for i in range(msgs):
                await ws.send(f"client-{c}-msg-{i}-" + "y" * (i % 200))
                await ws.recv()
    await asyncio.gather(*(one(c) for c in range(clients)))


if __name__ == "__main__":
    if sys.argv[1] == "load":
        asyncio.run(load(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
    elif sys.argv[1] == "server":
        asyncio.run(server(int(sys.argv[2])))
    elif sys.argv[1] == "tls-server":
        asyncio.run(tls_server(int(sys.argv[2]), sys.argv[3], sys.argv[4]))
    elif sys.argv[1] == "tls-client":
        asyncio.run(client(int(sys.argv[2]), int(sys.argv[3]), 0.0, sys.argv[4]))
    else:
        pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
        asyncio.run(client(int(sys.argv[2]), int(sys.argv[3]), pause))
