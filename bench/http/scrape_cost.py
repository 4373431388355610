#!/usr/bin/env python3
"""What a /metrics scrape costs at N agents, over HTTP.

    AGENTREGD=build/apps/agentregd python3 bench/http/scrape_cost.py [N ...]

For each N (default 1000 10000 100000): starts agentregd (memory only, a
free port), registers N agents of 10 types and 4 models (4 client threads,
keep-alive), completes 400 executions with tool calls, then times 9 scrapes
of GET /metrics (median, min, max) and prints the body's size, beside GET
/v1/stats (which reads every agent's record).
"""

import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "http"))
from harness import Daemon  # noqa: E402

TOKEN = "scrape-bench"


def run(n):
    d = Daemon(None, token=TOKEN).start()

    def register(part):
        c = d.client()
        for i in range(part, n, 4):
            c.register(f"agent-{i}", f"type-{i % 10}", llm_provider="provider", model_name=f"model-{i % 4}",
                       max_capacity=4)

    threads = [threading.Thread(target=register, args=(p,)) for p in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    api = d.client()
    for i in range(400):
        eid = api.start_execution(f"agent-{i}")
        api.complete_execution(eid, "success", prompt_tokens=100, completion_tokens=50)
        api.record_tool_usage(f"agent-{i}", f"tool-{i % 8}", success_count=1, duration_ms=12)

    def timed(path):
        times, size = [], 0
        for _ in range(9):
            t0 = time.perf_counter()
            r = api.request("GET", path)
            times.append((time.perf_counter() - t0) * 1000)
            size = len(r.raw)
        return statistics.median(times), min(times), max(times), size

    m = timed("/metrics")
    s = timed("/v1/stats")
    print(f"agents {n:7d}: GET /metrics {m[0]:7.2f} ms [{m[1]:.2f} .. {m[2]:.2f}], {m[3]} bytes; "
          f"GET /v1/stats {s[0]:7.2f} ms [{s[1]:.2f} .. {s[2]:.2f}]", flush=True)
    d.kill()


def main():
    for n in [int(a) for a in sys.argv[1:]] or [1000, 10000, 100000]:
        run(n)


if __name__ == "__main__":
    main()
