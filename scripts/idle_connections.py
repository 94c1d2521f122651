#!/usr/bin/env python3
"""Opens N keep-alive connections to a server, makes one GET on each (so each
connection has served a request, as a browser's would), and holds them open,
idle, until the file STOP exists. Prints "open <n> failed <m>" once every
connection is up, and "still-open <n> closed <m>" when told to stop: how many
the server kept open while they were idle. Used by scripts/idle-connections.sh.

    python3 scripts/idle_connections.py http://127.0.0.1:8080 8000 /api/health STOP
"""
import asyncio
import os
import sys
import urllib.parse


async def one(host, port, path, opened):
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await asyncio.wait_for(reader.readexactly(length), 10)
        if not head.startswith(b"HTTP/1.1 200"):
            writer.close()
            return None
        opened.append((reader, writer))
        return True
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
        if writer is not None:
            writer.close()
        return None


async def main():
    url = urllib.parse.urlsplit(sys.argv[1])
    count = int(sys.argv[2])
    path = sys.argv[3]
    stop = sys.argv[4]
    opened = []
    # At most 1,000 opening at once, so that the listen backlog is not overrun.
    opening = asyncio.Semaphore(1000)

    async def limited():
        async with opening:
            return await one(url.hostname, url.port, path, opened)

    results = await asyncio.gather(*(limited() for _ in range(count)))
    failed = sum(1 for r in results if r is None)
    print(f"open {len(opened)} failed {failed}", flush=True)
    while not os.path.exists(stop):
        await asyncio.sleep(0.2)
    # A connection the server closed reads EOF at once; an open one times out.
    async def alive(reader):
        try:
            return bool(await asyncio.wait_for(reader.read(1), 1.0))
        except asyncio.TimeoutError:
            return True
        except OSError:
            return False

    still = sum(await asyncio.gather(*(alive(reader) for reader, _ in opened)))
    print(f"still-open {still} closed {len(opened) - still}", flush=True)
    for _, writer in opened:
        writer.close()


asyncio.run(main())
