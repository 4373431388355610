"""The live parts of agentregd against a real server on PostgreSQL:
/metrics (promtool check metrics on a live scrape; values agree with
/v1/stats after a known workload), the change stream (lists carry their
revision; GET /v1/watch as Server-Sent Events with Last-Event-ID resume and
as a long poll; compacted revisions; a slow SSE client disconnected with a
final compacted event; 1 000 concurrent watchers) and the dashboard's
files."""

import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import threading
import time
import unittest

from harness import (DEADLINE_S, Daemon, Postgres, connect, raise_open_files_limit, raw_request, read_response,
                     wait_until)

TOKEN = "live-test-token"
WATCHERS = 1000
PROMTOOL = shutil.which("promtool")

pg = None


def setUpModule():
    global pg
    raise_open_files_limit(WATCHERS)
    pg = Postgres()


def tearDownModule():
    pg.close()


def parse_metrics(text):
    """{(name, frozenset of (label, value))): value} of a Prometheus text scrape."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def total(samples, name, **labels):
    """The sum of `name`'s samples whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


class sse_reader:
    """One SSE connection over a raw socket: the header, then events."""

    def __init__(self, port, path, headers=None):
        self.sock = connect(port)
        self.sock.sendall(raw_request("GET", path, token=TOKEN,
                                      headers=dict({"Accept": "text/event-stream"}, **(headers or {}))))
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "closed before the header"
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode("latin-1")
        self.status = int(self.head.split(" ")[1])
        self.closed = False

    def events(self):
        """Complete events received so far, as (name, id, data) tuples, consumed."""
        out = []
        while b"\n\n" in self.buf:
            block, self.buf = self.buf.split(b"\n\n", 1)
            name, ident, data = "message", None, ""
            for line in block.decode("utf-8").split("\n"):
                if line.startswith(":"):
                    continue
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    name = value
                elif field == "id":
                    ident = value
                elif field == "data":
                    data += value
            if name != "message" or data:
                out.append((name, ident, json.loads(data) if data else None))
        return out

    def read_until(self, predicate, what, deadline_s=DEADLINE_S):
        """Events read until predicate(all events so far) is true."""
        seen = []
        end = time.monotonic() + deadline_s
        while True:
            seen += self.events()
            if predicate(seen):
                return seen
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} within {deadline_s} s; got {seen}")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                self.closed = True
                seen += self.events()
                if predicate(seen):
                    return seen
                raise AssertionError(f"stream closed before {what}; got {seen}")
            self.buf += chunk

    def close(self):
        self.sock.close()


class live(unittest.TestCase):
    daemon = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(pg.new_database(), "--watch-buffer-bytes", "16384", token=TOKEN).start()
        cls.api = cls.daemon.client()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.kill()

    def test_per_agent_series_are_capped_and_pass_promtool(self):
        with Daemon(None, "--metrics-per-agent", "2") as d:
            api = d.client()
            for i in range(3):
                api.register(f"pa-{i}", "per-agent", max_capacity=4)
            api.update_load("pa-0", 1)
            api.update_load("pa-1", 3)
            eid = api.start_execution("pa-2")
            api.complete_execution(eid, "success")
            text = api.request("GET", "/metrics").raw.decode()
            if PROMTOOL:
                check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True)
                self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
            m = parse_metrics(text)
            load = {dict(ls)["gen_ai_agent_name"]: v for (n, ls), v in m.items() if n == "agentreg_agent_load_slots"}
            # The first two registered agents by id, each with its load; pa-2 is past the cap.
            self.assertEqual(sum(load.values()), 4, load)
            self.assertEqual(set(load), {"pa-0", "pa-1"})
            self.assertEqual(load["pa-1"], 3)
            self.assertEqual(total(m, "agentreg_agent_load_slots", agent_type="per-agent"), 4)
            # The executions family keeps its own cap (agents with a summary).
            self.assertEqual(total(m, "agentreg_agent_executions_total", gen_ai_agent_name="pa-2", status="success"), 1)

    def revision_of_list(self):
        r = self.api.request("GET", "/v1/agents")
        self.assertEqual(r.status, 200)
        return int(r.headers["x-agentreg-revision"])

    # ---- /metrics ----

    def test_a_live_scrape_passes_promtool_and_agrees_with_stats(self):
        api = self.api
        for i in range(3):
            api.register(f"m-planner-{i}", "m-planner", llm_provider="anthropic", model_name="claude-3-5-sonnet",
                         max_capacity=2)
        api.register("m-coder-0", "m-coder", llm_provider="openai", model_name="gpt-4o", max_capacity=1)
        leases = [api.acquire("m-planner") for _ in range(4)]
        api.release(leases.pop())
        for status, prompt in (("success", 1200), ("failed", 3), ("success", 70000)):
            eid = api.start_execution("m-coder-0")
            api.complete_execution(eid, status, prompt_tokens=prompt, completion_tokens=10)
        api.record_tool_usage("m-coder-0", "code_search", success_count=3, failure_count=1, duration_ms=40)
        # The records committed, so the persistence counters have moved too.
        wait_until(lambda: api.stats()["persistence"]["backlog"] == 0 and api.stats()["persistence"]["rows"] > 0,
                   "the records committed")
        # Snapshot rows (agents, summaries) go on being committed after the
        # backlog is empty, so the rows counter is read before and after the
        # scrape, and the scraped value lies between the two.
        rows_before = api.stats()["persistence"]["rows"]
        r = api.request("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/plain; version=0.0.4"))
        text = r.raw.decode("utf-8")
        if PROMTOOL:
            check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        m = parse_metrics(text)
        s = api.stats()
        self.assertEqual(total(m, "agentreg_agents"), s["agents"])
        for status in ("online", "busy", "offline", "paused"):
            self.assertEqual(total(m, "agentreg_agents", status=status), s[status], status)
        self.assertEqual(total(m, "agentreg_capacity_slots", agent_type="m-planner"), 6)
        self.assertEqual(total(m, "agentreg_load_slots", agent_type="m-planner"), 3)
        self.assertEqual(total(m, "agentreg_acquires_total", agent_type="m-planner"), 4)
        self.assertEqual(total(m, "agentreg_releases_total", agent_type="m-planner"), 1)
        self.assertEqual(total(m, "agentreg_leases_held"), s["leases_held"])
        self.assertEqual(total(m, "agentreg_executions_total"), s["completed_executions"])
        self.assertEqual(total(m, "agentreg_executions_total", agent_type="m-coder", status="failed"), 1)
        self.assertEqual(total(m, "gen_ai_client_token_usage_count", agent_type="m-coder", gen_ai_token_type="input"), 3)
        # 3 <= 1024; 1200 <= 4096; 70000 <= 262144.
        self.assertEqual(total(m, "gen_ai_client_token_usage_bucket", agent_type="m-coder", gen_ai_token_type="input",
                               le="1024"), 1)
        self.assertEqual(total(m, "gen_ai_client_token_usage_bucket", agent_type="m-coder", gen_ai_token_type="input",
                               le="4096"), 2)
        self.assertEqual(total(m, "agentreg_tokens_total", agent_type="m-coder", gen_ai_token_type="input"), 71203)
        self.assertEqual(total(m, "agentreg_tool_calls_total", gen_ai_tool_name="code_search", outcome="success"), 3)
        self.assertEqual(total(m, "agentreg_tool_calls_total", gen_ai_tool_name="code_search", outcome="failure"), 1)
        self.assertGreaterEqual(total(m, "agentreg_persistence_rows_written_total"), rows_before)
        self.assertLessEqual(total(m, "agentreg_persistence_rows_written_total"), s["persistence"]["rows"])
        self.assertEqual(total(m, "agentreg_persistence_enabled"), 1)
        self.assertEqual(total(m, "agentreg_sweeps_total"), s["sweeps"])
        self.assertGreater(total(m, "agentreg_http_requests_total", route="/v1/leases", method="POST", code="201"), 3)
        self.assertEqual(total(m, "agentreg_build_info"), 1)
        for lease in leases:
            api.release(lease)

    def test_metrics_needs_the_token(self):
        r = exchange_raw(self.daemon.port, raw_request("GET", "/metrics"))
        self.assertEqual(r.status, 401)

    # ---- the change stream ----

    def test_a_list_then_a_long_poll_from_its_revision_misses_nothing(self):
        since = self.revision_of_list()
        self.api.register("lp-1", "lp")
        self.api.update_status("lp-1", "paused")
        r = self.api.request("GET", "/v1/watch", query={"since": since, "wait": "5s"})
        self.assertEqual(r.status, 200, r)
        body = r.body
        self.assertFalse(body["compacted"])
        kinds = [(c["kind"], c["agent_id"]) for c in body["changes"] if c.get("agent_id") == "lp-1"]
        self.assertIn(("agent_registered", "lp-1"), kinds)
        self.assertIn(("status_changed", "lp-1"), kinds)
        revisions = [c["revision"] for c in body["changes"]]
        self.assertEqual(revisions, sorted(revisions))
        self.assertGreater(revisions[0], since)
        self.assertEqual(int(r.headers["x-agentreg-revision"]), body["revision"])

    def test_a_long_poll_waits_for_the_next_change(self):
        since = self.revision_of_list()
        done = {}

        def poll():
            done["r"] = self.daemon.client().request("GET", "/v1/watch", query={"since": since, "wait": "30s"})

        before = self.watchers()
        t = threading.Thread(target=poll)
        t.start()
        # The poll is waiting (counted as a watcher) before the change is made.
        wait_until(lambda: self.watchers() > before, "the long poll to wait")
        self.api.register("lp-wait", "lp")
        t.join(DEADLINE_S)
        body = done["r"].body
        self.assertTrue(any(c.get("agent_id") == "lp-wait" for c in body["changes"]), body)

    def test_a_long_poll_with_nothing_new_answers_empty_at_its_deadline(self):
        since = self.revision_of_list()
        r = self.api.request("GET", "/v1/watch", query={"since": since, "wait": "200ms"})
        self.assertEqual(r.status, 200)
        # Changes made by other tests of this class may come; none is older than `since`.
        self.assertTrue(all(c["revision"] > since for c in r.body["changes"]))
        self.assertGreaterEqual(r.body["revision"], since)

    def test_a_revision_behind_the_ring_is_compacted(self):
        r = self.api.request("GET", "/v1/watch", query={"since": 1, "wait": "1s"})
        self.assertEqual(r.status, 200)
        self.assertTrue(r.body["compacted"])
        self.assertEqual(r.body["changes"], [])
        s = sse_reader(self.daemon.port, "/v1/watch?since=1")
        events = s.read_until(lambda ev: any(e[0] == "compacted" for e in ev), "a compacted event")
        self.assertEqual(events[-1][0], "compacted")
        self.assertIn("compacted_revision", events[-1][2])
        s.read_until(lambda ev: s.closed, "the end of the stream")
        s.close()

    def test_bad_watch_parameters_are_refused(self):
        for query in ({"since": "x"}, {"since": "-1"}, {"since": 1, "wait": "forever"}, {"since": 1, "wait": "1h"},
                      {"since": 1, "other": 1}):
            r = self.api.request("GET", "/v1/watch", query=query)
            self.assertEqual(r.status, 400, query)
            self.assertEqual(r.body["error"], "invalid_request")

    def test_sse_streams_changes_with_their_revisions_and_resumes_after_last_event_id(self):
        since = self.revision_of_list()
        s = sse_reader(self.daemon.port, f"/v1/watch?since={since}")
        self.assertEqual(s.status, 200)
        self.assertIn("text/event-stream", s.head.lower())
        mine = lambda ev: [e for e in ev if e[0] == "change" and e[2].get("agent_id") == "sse-1"]
        # Each change waits for the one before to arrive: a change whose agent
        # is gone when it is published is dropped (the unregistration tells).
        events = []
        for n, change in enumerate((lambda: self.api.register("sse-1", "sse", max_capacity=2),
                                    lambda: self.api.heartbeat("sse-1", current_load=1),
                                    lambda: self.api.unregister("sse-1")), start=1):
            change()
            events += s.read_until(lambda ev: len(mine(events + ev)) >= n, f"change {n} of sse-1")
        got = mine(events)
        self.assertEqual([e[2]["kind"] for e in got[:3]], ["agent_registered", "load_changed", "agent_unregistered"])
        for name, ident, data in got:
            self.assertEqual(int(ident), data["revision"])
        s.close()
        # Reconnect as an EventSource does: the first URL, and Last-Event-ID.
        first = got[0][1]
        again = sse_reader(self.daemon.port, f"/v1/watch?since={since}", headers={"Last-Event-ID": first})
        events = again.read_until(lambda ev: len(mine(ev)) >= 2, "the changes after the first")
        self.assertEqual([e[2]["kind"] for e in mine(events)[:2]], ["load_changed", "agent_unregistered"])
        self.assertTrue(all(int(e[1]) > int(first) for e in events if e[1]))
        again.close()

    def test_a_slow_sse_client_is_disconnected_with_a_final_compacted_event(self):
        # A client that reads nothing, with a small receive buffer; the server
        # keeps at most --watch-buffer-bytes (16 KiB here) for it.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", self.daemon.port))
        since = self.revision_of_list()
        sock.sendall(raw_request("GET", f"/v1/watch?since={since}", token=TOKEN))
        self.api.register("slow-1", "slow", max_capacity=4000)
        before = self.disconnects()
        load = 0
        while self.disconnects() == before:
            self.assertLess(load, 200000, "the slow client was never disconnected")
            batch = [("slow-1", (load + i) % 4000) for i in range(500)]
            self.api.heartbeats(batch)
            load += 500
        # Reading now: everything written before, then the final event and the end.
        data = b""
        sock.settimeout(DEADLINE_S)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        sock.close()
        tail = data.rstrip(b"\n").rsplit(b"\n\n", 1)[-1].decode("utf-8")
        self.assertTrue(tail.startswith("event: compacted"), tail)

    def watchers(self):
        m = parse_metrics(self.api.request("GET", "/metrics").raw.decode("utf-8"))
        return total(m, "agentreg_watchers")

    def disconnects(self):
        m = parse_metrics(self.api.request("GET", "/metrics").raw.decode("utf-8"))
        return total(m, "agentreg_watch_disconnects_total")

    def test_a_thousand_watchers_all_receive_a_change(self):
        since = self.revision_of_list()
        sel = selectors.DefaultSelector()
        request = raw_request("GET", f"/v1/watch?since={since}", token=TOKEN)
        socks = []
        for _ in range(WATCHERS):
            s = connect(self.daemon.port)
            s.sendall(request)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, bytearray())
            socks.append(s)
        try:
            def read_all(until, what):
                end = time.monotonic() + DEADLINE_S
                while not until():
                    left = end - time.monotonic()
                    if left <= 0:
                        raise AssertionError(f"timed out waiting for {what}")
                    for key, _ in sel.select(min(left, 1.0)):
                        chunk = key.fileobj.recv(65536)
                        if not chunk:
                            raise AssertionError("a watcher was disconnected")
                        key.data.extend(chunk)

            buffers = [sel.get_key(s).data for s in socks]
            # Every stream open (its header and first comment written)...
            read_all(lambda: all(b"watching after revision" in b for b in buffers), "every stream to open")
            m = parse_metrics(self.api.request("GET", "/metrics").raw.decode("utf-8"))
            self.assertGreaterEqual(total(m, "agentreg_watchers"), WATCHERS)
            # ...then one change, which every one of them must receive.
            self.api.register("crowd-1", "crowd")
            read_all(lambda: all(b'"agent_id":"crowd-1"' in b for b in buffers), "every watcher to get the change")
        finally:
            for s in socks:
                sel.unregister(s)
                s.close()

    # ---- the dashboard ----

    def test_the_dashboard_and_its_files_are_served_without_a_token(self):
        for path, kind in (("/", "text/html"), ("/dashboard/app.js", "text/javascript"),
                           ("/dashboard/style.css", "text/css")):
            r = exchange_raw(self.daemon.port, raw_request("GET", path))
            self.assertEqual(r.status, 200, path)
            self.assertTrue(r.headers["content-type"].startswith(kind), path)
            self.assertIn("default-src 'self'", r.headers["content-security-policy"])
        page = exchange_raw(self.daemon.port, raw_request("GET", "/")).body.decode("utf-8")
        self.assertIn("/dashboard/app.js", page)
        self.assertNotIn("http://", page.replace("http://www.w3.org", ""))  # no CDN
        if os.path.exists(os.path.join(os.environ.get("AGENTREG_SOURCE_DIR", "."), "node_modules", "uplot")):
            r = exchange_raw(self.daemon.port, raw_request("GET", "/dashboard/uPlot.iife.min.js"))
            self.assertEqual(r.status, 200)
            self.assertIn(b"uPlot", r.body)


def exchange_raw(port, data):
    with connect(port) as sock:
        sock.sendall(data)
        return read_response(sock)


if __name__ == "__main__":
    unittest.main()
