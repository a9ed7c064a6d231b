#!/usr/bin/python3
"""Holds COUNT idle HTTP/1.1 keep-alive connections open to HOST:PORT (bench/run uses it).

    idle_clients.py HOST PORT COUNT SOURCE_IP MAX_HOLD_SECONDS

Each connection sends one `GET /healthz` (keep-alive), reads the whole answer and then stays
open and silent. When all are set up the program prints one line
    READY ok=N failed=M errors={...}
and holds them until SIGTERM/SIGINT or MAX_HOLD_SECONDS, whichever comes first (it always stops
by itself). On the way out it prints
    DONE still_open=K closed_by_server=J
and closes everything. SOURCE_IP (e.g. 127.0.0.11) spreads the clients over several loopback
addresses so their ephemeral ports do not collide.
"""
import asyncio
import resource
import signal
import sys

CONNECT_PARALLEL = 200  # connection attempts in flight at once
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: bench\r\nUser-Agent: hlsgate-bench-idle\r\n\r\n"


async def open_one(host, port, src, sem, conns, errors):
    async with sem:
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection(host, port, local_addr=(src, 0)), 30)
        except Exception as e:  # noqa: BLE001 - counted and reported, never hidden
            key = "connect:" + type(e).__name__
            errors[key] = errors.get(key, 0) + 1
            return
        try:
            w.write(REQUEST)
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await asyncio.wait_for(r.readexactly(length), 30)
            status = head.split(b" ", 2)[1] if head.startswith(b"HTTP/1.1 ") else b"?"
            if status != b"200":
                key = "status:" + status.decode("latin-1")
                errors[key] = errors.get(key, 0) + 1
                w.close()
                return
            conns.append((r, w))
        except Exception as e:  # noqa: BLE001
            key = "request:" + type(e).__name__
            errors[key] = errors.get(key, 0) + 1
            w.close()


async def main():
    host, port, count, src, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], \
        float(sys.argv[5])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64), hard))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sem = asyncio.Semaphore(CONNECT_PARALLEL)
    conns, errors = [], {}
    await asyncio.gather(*(open_one(host, port, src, sem, conns, errors) for _ in range(count)))
    print("READY ok=%d failed=%d errors=%s" % (len(conns), count - len(conns), errors), flush=True)
    try:
        await asyncio.wait_for(stop.wait(), hold)
    except asyncio.TimeoutError:
        pass
    closed = sum(1 for r, _ in conns if r.at_eof())
    print("DONE still_open=%d closed_by_server=%d" % (len(conns) - closed, closed), flush=True)
    for _, w in conns:
        w.close()
    await asyncio.sleep(0.2)


if __name__ == "__main__":
    asyncio.run(main())
