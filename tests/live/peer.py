#!/usr/bin/env python3
"""Real WebSocket peers for the live-capture tests (Python `websockets`).

  peer.py server PORT                 echo server on 127.0.0.1:PORT (runs until killed)
  peer.py load PORT CLIENTS MSGS      CLIENTS concurrent connections, MSGS echoed messages each
  peer.py client PORT N [PAUSE]       sends N text messages "msg-<i>-<padding>", reads each
                                      echo, closes with 1000 "done"; with PAUSE seconds, it
                                      prints "PAUSED" after half of them and waits PAUSE
                                      seconds before the rest (so a capture can start
                                      mid-session). Prints each message sent, one per line.
"""
import asyncio
import sys

import websockets


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def server(port):
    async with websockets.serve(echo, "127.0.0.1", port, compression=None, ping_interval=None):
        print("READY", flush=True)
        await asyncio.Future()


async def client(port, n, pause):
    async with websockets.connect(f"ws://127.0.0.1:{port}/live", compression=None, ping_interval=None) as ws:
        for i in range(n):
            if pause and i == n // 2:
                print("PAUSED", flush=True)
                await asyncio.sleep(pause)
            text = f"msg-{i}-" + "x" * (i * 37 % 300)
            await ws.send(text)
            assert await ws.recv() == text
            print(text, flush=True)
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
    else:
        pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
        asyncio.run(client(int(sys.argv[2]), int(sys.argv[3]), pause))
