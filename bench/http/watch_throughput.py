#!/usr/bin/env python3
"""Watch throughput: change events per second delivered to N SSE watchers.

    AGENTREGD=build/apps/agentregd python3 bench/http/watch_throughput.py [N ...]

For each N (default 1 10 100 1000): starts agentregd (memory only, a free
port), opens N watchers of GET /v1/watch, then one writer thread sends
heartbeat batches that change 500 agents' loads per request (500 events)
for a few seconds while this process reads every watcher's stream. Prints
events made per second, events delivered per second (summed over the
watchers) and per watcher, and the watchers disconnected as too slow (this
reader is one Python thread: at large N it, not the server, is the limit).
"""

import os
import resource
import selectors
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "http"))
from harness import Daemon, connect, raw_request  # noqa: E402

TOKEN = "watch-bench"
SECONDS = 5.0
AGENTS = 500


def run(n):
    d = Daemon(None, "--watch-buffer-bytes", str(64 << 20), token=TOKEN).start()
    api = d.client()
    for i in range(AGENTS):
        api.register(f"w-{i}", "w", max_capacity=4000)
    since = int(api.request("GET", "/v1/agents").headers["x-agentreg-revision"])
    sel = selectors.DefaultSelector()
    req = raw_request("GET", f"/v1/watch?since={since}", token=TOKEN)
    counts = {}
    for _ in range(n):
        s = connect(d.port)
        s.sendall(req)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        counts[s] = 0
    made = [0]
    stop = threading.Event()

    def write():
        c = d.client()
        load = 0
        while not stop.is_set():
            load = (load + 1) % 4000
            c.heartbeats([(f"w-{i}", load) for i in range(AGENTS)])
            made[0] += AGENTS

    t = threading.Thread(target=write)
    start = time.monotonic()
    t.start()
    closed = 0
    while time.monotonic() - start < SECONDS:
        for key, _ in sel.select(0.2):
            chunk = key.fileobj.recv(1 << 20)
            if not chunk:
                sel.unregister(key.fileobj)
                closed += 1
                continue
            counts[key.fileobj] += chunk.count(b"\nevent: change\n")
    stop.set()
    t.join()
    elapsed = time.monotonic() - start
    delivered = sum(counts.values())
    print(f"watchers {n:5d}: made {made[0] / elapsed:9.0f} events/s, delivered {delivered / elapsed:10.0f} events/s "
          f"in all, {delivered / elapsed / n:9.0f} per watcher, {closed} disconnected", flush=True)
    for s in counts:
        s.close()
    d.kill()


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1, 10, 100, 1000]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * max(sizes) + 512), hard))
    for n in sizes:
        run(n)


if __name__ == "__main__":
    main()
