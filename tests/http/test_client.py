"""The Python client against a real agentregd and a real PostgreSQL: the
seed's scenario over HTTP, then its rows read back from the database; the
client's errors, keep-alive, reconnection, token and TLS."""

import json
import os
import re
import subprocess
import tempfile
import unittest

from harness import DEADLINE_S, Daemon, ModulePostgres, connect, raw_request, read_response, wait_until
from agentreg_client import AgentRegError, Client

pg = ModulePostgres()
setUpModule, tearDownModule = pg.set_up, pg.tear_down


UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class seed_scenario_over_http(unittest.TestCase):
    """The seed README's usage examples, in order, through the client; then
    the four tables hold what the answers said."""

    def test_seed_scenario_answers_and_rows_in_postgresql(self):
        db = pg.new_database()
        with Daemon(db, "--performance-update-interval-s", "1") as daemon:
            reg = daemon.client()
            planner = reg.register("agent_planner_1", "planner", llm_provider="claude",
                                   model_name="claude-3-5-sonnet-20241022", temperature=0.7,
                                   max_tokens=8000, max_capacity=10)
            self.assertEqual(planner["status"], "online")
            self.assertEqual(planner["current_load"], 0)
            self.assertEqual(planner["max_capacity"], 10)
            self.assertIsNotNone(planner["last_heartbeat"])  # the seed left it empty
            reg.register("agent_executor_1", "executor", llm_provider="openai", model_name="gpt-4o", max_capacity=10)
            reg.register("agent_researcher_1", "researcher", llm_provider="gemini", model_name="gemini-1.5-pro",
                         max_capacity=10)

            # Track execution with costs
            execution_id = reg.start_execution("agent_planner_1", workflow_slug="code_analysis",
                                               task_type="planning", run_id="run-42")
            self.assertRegex(execution_id, UUID)
            self.assertEqual(reg.get_execution(execution_id)["status"], "running")
            done = reg.complete_execution(execution_id, "success", prompt_tokens=1500, completion_tokens=800,
                                          total_tokens=2300, estimated_cost_usd=0.045, success_score=0.95)
            self.assertEqual(done["status"], "success")
            self.assertEqual(done["total_tokens"], 2300)
            self.assertEqual(done["cost_micro_usd"], 45000)
            self.assertFalse(done["cost_from_price_table"])
            self.assertEqual(done["workflow_slug"], "code_analysis")
            self.assertEqual(done["run_id"], "run-42")

            # Track tool usage
            usage = reg.record_tool_usage("agent_planner_1", "code_search", execution_id=execution_id,
                                          success_count=1, duration_ms=250)
            self.assertEqual((usage["invocation_count"], usage["success_count"], usage["failure_count"]), (1, 1, 0))
            self.assertEqual([t["tool_name"] for t in reg.get_tool_usage("agent_planner_1")], ["code_search"])

            # Load balancing: the seed's read-then-write, and the lease that replaces it
            least = reg.get_least_loaded_agent("planner")
            self.assertEqual(least["agent_id"], "agent_planner_1")
            self.assertEqual(reg.update_load(least["agent_id"], least["current_load"] + 1)["current_load"], 1)
            reg.update_load("agent_planner_1", 0)
            with reg.leased("planner", ttl_ms=60_000) as lease:
                self.assertEqual(lease["agent_id"], "agent_planner_1")
                self.assertEqual(reg.get_agent("agent_planner_1")["current_load"], 1)
            self.assertEqual(reg.get_agent("agent_planner_1")["current_load"], 0)

            # The workflow integration's failure path: no tokens, no price
            failing = reg.start_execution("agent_planner_1", task_type="planning", workflow_slug="code_analysis")
            failed = reg.complete_execution(failing, "failed", error_message="LLM call timed out", retry_count=2)
            self.assertEqual(failed["status"], "failed")
            self.assertEqual(failed["retry_count"], 2)
            self.assertEqual(failed["error_message"], "LLM call timed out")

            # Query performance (with the budget example's avg_cost_per_execution)
            perf = reg.get_performance("agent_planner_1")
            self.assertEqual(perf["total_executions"], 2)
            self.assertEqual(perf["successful_executions"], 1)
            self.assertEqual(perf["failed_executions"], 1)
            self.assertAlmostEqual(perf["success_rate"], 0.5)
            self.assertEqual(perf["total_tokens_used"], 2300)
            self.assertEqual(perf["total_cost_micro_usd"], 45000)
            self.assertAlmostEqual(perf["total_cost_usd"], 0.045)
            self.assertAlmostEqual(perf["avg_cost_per_execution"], 0.0225)
            self.assertEqual(perf["total_retries"], 2)
            by_model = {s["key"]: s for s in reg.get_performance_by("model")}
            self.assertEqual(by_model["claude-3-5-sonnet-20241022"]["total_executions"], 2)

            # List online agents
            online = reg.list_online_agents()
            self.assertEqual([f'{a["agent_id"]}: {a["current_load"]}/{a["max_capacity"]} ({a["agent_type"]})'
                              for a in online],
                             ["agent_executor_1: 0/10 (executor)", "agent_planner_1: 0/10 (planner)",
                              "agent_researcher_1: 0/10 (researcher)"])

            # The rows, written behind while the server runs.
            wait_until(lambda: pg.value("SELECT count(*) FROM agent_executions WHERE status <> 'running'", db) == "2",
                       "both executions committed")
            wait_until(lambda: pg.sql("SELECT total_executions FROM agent_performance_summary "
                                      "WHERE dimension = 'agent' AND key = 'agent_planner_1'", db) == [("2",)],
                       "the planner's summary written")
            wait_until(lambda: pg.value("SELECT count(*) FROM agent_instances", db) == "3", "the agents written")
            wait_until(lambda: pg.value("SELECT count(*) FROM agent_tool_usage", db) == "1", "the tool usage written")

        self.assertEqual(pg.sql("SELECT agent_type, llm_provider, model_name, max_capacity, max_tokens, temperature, "
                                "last_heartbeat IS NOT NULL FROM agent_instances WHERE agent_id = 'agent_planner_1'",
                                db),
                         [("planner", "claude", "claude-3-5-sonnet-20241022", "10", "8000", "0.7", "t")])
        self.assertEqual(pg.sql(f"SELECT agent_id, task_type, workflow_slug, run_id, status, prompt_tokens, "
                                f"completion_tokens, total_tokens, cost_micro_usd, estimated_cost_usd, success_score "
                                f"FROM agent_executions WHERE id = '{execution_id}'", db),
                         [("agent_planner_1", "planning", "code_analysis", "run-42", "success", "1500", "800", "2300",
                           "45000", "0.045000", "0.95")])
        self.assertEqual(pg.sql(f"SELECT status, retry_count, error_message, total_tokens FROM agent_executions "
                                f"WHERE id = '{failing}'", db),
                         [("failed", "2", "LLM call timed out", "0")])
        self.assertEqual(pg.sql("SELECT agent_id, tool_name, invocation_count, success_count, failure_count "
                                "FROM agent_tool_usage", db),
                         [("agent_planner_1", "code_search", "1", "1", "0")])
        self.assertEqual(pg.sql("SELECT total_executions, successful_executions, failed_executions, "
                                "total_tokens_used, total_cost_micro_usd, total_retries FROM agent_performance_summary "
                                "WHERE dimension = 'agent' AND key = 'agent_planner_1'", db),
                         [("2", "1", "1", "2300", "45000", "2")])


class client_behaviour(unittest.TestCase):
    daemon = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(None, "--idle-timeout-ms", "300").start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.kill()

    def test_error_answers_raise_with_code_status_and_message(self):
        reg = self.daemon.client()
        with self.assertRaises(AgentRegError) as caught:
            reg.get_agent("nobody-here")
        self.assertEqual(caught.exception.code, "unknown_agent")
        self.assertEqual(caught.exception.status, 404)
        self.assertIn("nobody-here", caught.exception.message)
        reg.register("full-1", "full", max_capacity=1)
        lease = reg.acquire("full")
        with self.assertRaises(AgentRegError) as caught:
            reg.acquire("full")
        self.assertEqual((caught.exception.code, caught.exception.status), ("no_capacity", 409))
        self.assertIsNone(reg.get_least_loaded_agent("full"))
        reg.release(lease)
        with self.assertRaises(AgentRegError) as caught:
            reg.release(lease)
        self.assertEqual((caught.exception.code, caught.exception.status), ("lease_not_held", 409))

    def test_non_finite_numbers_are_refused_before_sending(self):
        reg = self.daemon.client()
        with self.assertRaises(ValueError):
            reg.register("nan-1", "nan", temperature=float("nan"))
        with self.assertRaises(AgentRegError) as caught:
            reg.get_agent("nan-1")
        self.assertEqual(caught.exception.code, "unknown_agent")

    def test_ids_are_sent_as_one_path_segment(self):
        reg = self.daemon.client()
        for agent_id in ["team/planner-1", "a b?c#d", "least-loaded-not", "ünï"]:
            self.assertEqual(reg.register(agent_id, "odd")["agent_id"], agent_id)
            self.assertEqual(reg.get_agent(agent_id)["agent_id"], agent_id)
            self.assertEqual(reg.heartbeat(agent_id, current_load=0)["agent_id"], agent_id)
        with self.assertRaises(ValueError):
            reg.get_agent("")

    def test_calls_share_one_kept_alive_connection(self):
        reg = self.daemon.client()
        before = reg.stats()["server"]
        for i in range(50):
            reg.register(f"keep-{i}", "keep")
            reg.heartbeat(f"keep-{i}")
        after = reg.stats()["server"]
        self.assertEqual(after["connections_total"], before["connections_total"])
        self.assertGreaterEqual(after["requests"] - before["requests"], 101)

    def test_a_connection_the_server_closed_when_idle_is_replaced(self):
        reg = self.daemon.client()
        reg.register("idle-1", "idle")
        # The server closes the connection after --idle-timeout-ms (300 ms);
        # wait for that close on a probe connection opened at the same time.
        with connect(self.daemon.port) as probe:
            probe.sendall(raw_request("GET", "/health"))
            self.assertEqual(read_response(probe).status, 200)
            self.assertIsNone(read_response(probe))  # closed by the server: idle
        self.assertEqual(reg.heartbeat("idle-1")["agent_id"], "idle-1")

    def test_list_agents_follows_every_page(self):
        reg = self.daemon.client()
        ids = [f"page-{i:04d}" for i in range(1203)]
        for agent_id in ids:
            reg.register(agent_id, "paged")
        self.assertEqual([a["agent_id"] for a in reg.list_agents(agent_type="paged")], ids)
        page = reg.list_agents_page(agent_type="paged", limit=2)
        self.assertEqual([a["agent_id"] for a in page["agents"]], ids[:2])
        self.assertIsNotNone(page["next_cursor"])

    def test_list_online_agents_counts_busy_agents_and_not_paused_or_offline(self):
        reg = self.daemon.client()
        reg.register("up-online", "up", max_capacity=2)
        reg.register("up-busy", "up", max_capacity=1)
        reg.register("up-paused", "up")
        reg.register("up-offline", "up")
        reg.update_load("up-busy", 1)
        reg.update_status("up-paused", "paused")
        reg.update_status("up-offline", "offline")
        self.assertEqual([(a["agent_id"], a["status"]) for a in reg.list_online_agents("up")],
                         [("up-busy", "busy"), ("up-online", "online")])

    def test_heartbeats_in_one_request_answer_each_item(self):
        reg = self.daemon.client()
        reg.register("pool-1", "pool", max_capacity=4)
        results = reg.heartbeats([("pool-1", 3), "pool-missing"])
        self.assertEqual(results[0]["ok"], True)
        self.assertEqual(results[0]["current_load"], 3)
        self.assertEqual((results[1]["ok"], results[1]["error"]), (False, "unknown_agent"))

    def test_unregister_and_renew(self):
        reg = self.daemon.client()
        reg.register("gone-1", "gone")
        lease = reg.acquire("gone", ttl_ms=1000)
        renewed = reg.renew(lease, ttl_ms=120_000)
        self.assertEqual(renewed["lease_id"], lease["lease_id"])
        self.assertGreater(renewed["expires_at"], lease["expires_at"])
        reg.release(lease["lease_id"])
        reg.unregister("gone-1")
        with self.assertRaises(AgentRegError) as caught:
            reg.get_agent("gone-1")
        self.assertEqual(caught.exception.code, "unknown_agent")

    def test_expect_100_continue_is_answered_before_the_body_is_sent(self):
        # A client that asks first sends its body only after the interim
        # answer (or its own timeout): the server must answer the header.
        reg = self.daemon.client()
        reg.register("expect-1", "expect", max_capacity=4)
        body = b'{"current_load": 2}'
        head = raw_request("POST", "/v1/agents/expect-1/heartbeat", body, headers={"Expect": "100-continue"})
        head = head[:-len(body)]
        with connect(self.daemon.port) as sock:
            sock.sendall(head)
            interim = read_response(sock)  # within DEADLINE_S, else a timeout error
            self.assertEqual(interim.status, 100)
            sock.sendall(body)
            answer = read_response(sock)
            self.assertEqual(answer.status, 200, answer.body)
        self.assertEqual(reg.get_agent("expect-1")["current_load"], 2)

    def test_curl_posts_its_body_after_100_continue(self):
        # Older curls send "Expect: 100-continue" for bodies over 1 KiB by
        # themselves; Debian 12's (7.88) does not for this one (2 KiB), so it
        # is asked for here. Told to wait for the interim answer as
        # long as the test's deadline, curl prints it (verbose) when it comes.
        body = json.dumps({"agent_id": "curl-1", "agent_type": "curl", "metadata": {"pad": "p" * 2048}})
        done = subprocess.run(["curl", "-sS", "-v", "--expect100-timeout", str(int(DEADLINE_S)),
                               "-H", "Content-Type: application/json", "-H", "Expect: 100-continue",
                               "--data-binary", "@-",
                               f"{self.daemon.url}/v1/agents"],
                              input=body, capture_output=True, text=True, timeout=2 * DEADLINE_S)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("> Expect: 100-continue", done.stderr)
        self.assertIn("< HTTP/1.1 100 Continue", done.stderr)
        self.assertEqual(json.loads(done.stdout)["metadata"]["pad"], "p" * 2048)

    def test_a_tool_past_the_limit_per_agent_is_409_limit_reached_and_changes_nothing(self):
        reg = self.daemon.client()
        reg.register("tools-1", "tools")
        for i in range(1000):  # core::config::max_tools_per_agent, agentregd's default
            reg.record_tool_usage("tools-1", f"tool-{i:04d}", success_count=1)
        with self.assertRaises(AgentRegError) as caught:
            reg.record_tool_usage("tools-1", "tool-1000", success_count=1)
        self.assertEqual((caught.exception.code, caught.exception.status), ("limit_reached", 409))
        self.assertIn("tools-1", caught.exception.message)
        tools = reg.get_tool_usage("tools-1")
        self.assertEqual(len(tools), 1000)
        self.assertNotIn("tool-1000", [t["tool_name"] for t in tools])
        # a tool the agent already has is still counted
        self.assertEqual(reg.record_tool_usage("tools-1", "tool-0000", success_count=1)["invocation_count"], 2)

    def test_operations_routes(self):
        reg = self.daemon.client()
        self.assertEqual(reg.health(), {"status": "ok"})
        self.assertEqual(reg.ready(), {"ready": True, "persistence": "memory_only"})
        self.assertEqual(reg.openapi()["openapi"][:3], "3.1")


class listing_pages(unittest.TestCase):
    """GET /v1/agents pages: every agent once, in id order, with the filters
    applied before the page is cut (so a page is never short while more
    match) and the cursor naming the last agent answered."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(None).start()
        reg = cls.daemon.client()
        # 10 agents of two types and two models; the odd ones know "rust".
        for i in range(10):
            reg.register(f"lp-{i:02d}", "lp-even" if i % 2 == 0 else "lp-odd",
                         model_name="m-a" if i < 5 else "m-b", max_capacity=1,
                         skills=["rust"] if i % 2 else ["go"])
        reg.update_status("lp-03", "paused")
        reg.update_load("lp-04", 1)  # busy

    @classmethod
    def tearDownClass(cls):
        cls.daemon.kill()

    def pages(self, limit, **filters):
        """Every page of the listing, as lists of ids."""
        reg = self.daemon.client()
        pages, cursor = [], None
        while True:
            page = reg.list_agents_page(limit=limit, cursor=cursor, **filters)
            pages.append([a["agent_id"] for a in page["agents"]])
            cursor = page["next_cursor"]
            if cursor is None:
                return pages
            self.assertLessEqual(len(pages), 20, "the cursor does not advance")

    def ids(self, *numbers):
        return [f"lp-{i:02d}" for i in numbers]

    def test_one_agent_a_page(self):
        self.assertEqual(self.pages(1, agent_type="lp-even"), [[x] for x in self.ids(0, 2, 4, 6, 8)])

    def test_a_listing_that_ends_on_a_page_boundary_has_no_empty_last_page(self):
        self.assertEqual(self.pages(5, agent_type="lp-odd"), [self.ids(1, 3, 5, 7, 9)])
        self.assertEqual(self.pages(2, model_name="m-b"), [self.ids(5, 6), self.ids(7, 8), self.ids(9)])
        self.assertEqual(self.pages(5, model_name="m-a"), [self.ids(0, 1, 2, 3, 4)])

    def test_pages_across_every_agent(self):
        everyone = [x for page in self.pages(3) for x in page]
        self.assertEqual(everyone, sorted(set(everyone)))
        self.assertEqual([x for x in everyone if re.fullmatch(r"lp-\d\d", x)], self.ids(*range(10)))

    def test_filters_are_applied_before_the_page_is_cut(self):
        self.assertEqual(self.pages(2, skill="rust"), [self.ids(1, 3), self.ids(5, 7), self.ids(9)])
        self.assertEqual(self.pages(2, agent_type="lp-odd", status="online"), [self.ids(1, 5), self.ids(7, 9)])
        self.assertEqual(self.pages(2, agent_type="lp-even", status="busy"), [self.ids(4)])
        self.assertEqual(self.pages(3, agent_type="lp-odd", model_name="m-b", skill="rust"), [self.ids(5, 7, 9)])
        self.assertEqual(self.pages(3, agent_type="lp-none"), [[]])

    def test_a_cursor_starts_after_its_agent_even_once_that_agent_is_gone(self):
        reg = self.daemon.client()
        reg.register("lp-gone", "lp-cursor")
        reg.register("lp-next", "lp-cursor")
        reg.register("lp-last", "lp-cursor")
        first = reg.list_agents_page(agent_type="lp-cursor", limit=1)
        self.assertEqual([a["agent_id"] for a in first["agents"]], ["lp-gone"])
        reg.unregister("lp-gone")
        rest = reg.list_agents_page(agent_type="lp-cursor", limit=5, cursor=first["next_cursor"])
        self.assertEqual([a["agent_id"] for a in rest["agents"]], ["lp-last", "lp-next"])
        self.assertIsNone(rest["next_cursor"])


class token_and_tls(unittest.TestCase):
    def test_a_token_is_required_and_read_only_tokens_only_read(self):
        with Daemon(None, "--read-token", "reader-secret", token="writer-secret") as daemon:
            anonymous = daemon.client(token="")
            with self.assertRaises(AgentRegError) as caught:
                anonymous.register("tok-1", "tok")
            self.assertEqual((caught.exception.code, caught.exception.status), ("unauthorized", 401))
            self.assertEqual(anonymous.health(), {"status": "ok"})
            wrong = daemon.client(token="writer-secreT")
            with self.assertRaises(AgentRegError) as caught:
                wrong.stats()
            self.assertEqual(caught.exception.status, 401)
            writer = daemon.client()
            writer.register("tok-1", "tok")
            reader = daemon.client(token="reader-secret")
            self.assertEqual(reader.get_agent("tok-1")["agent_id"], "tok-1")
            with self.assertRaises(AgentRegError) as caught:
                reader.heartbeat("tok-1")
            self.assertEqual((caught.exception.code, caught.exception.status), ("forbidden", 403))

    def test_https_with_a_certificate_the_test_makes(self):
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", key, "-out", cert], check=True, capture_output=True)
            with Daemon(None, "--tls-cert", cert, "--tls-key", key, token="tls-secret") as daemon:
                self.assertTrue(daemon.url.startswith("https://"))
                reg = daemon.client(cafile=cert)
                self.assertEqual(reg.register("tls-1", "tls")["agent_id"], "tls-1")
                self.assertEqual(reg.heartbeat("tls-1")["agent_id"], "tls-1")
                untrusting = daemon.client()  # the system's trust store: the self-signed certificate is refused
                with self.assertRaises(OSError):
                    untrusting.health()
                with self.assertRaises(ValueError):
                    Client(daemon.url.replace("https", "http"), cafile=cert)


if __name__ == "__main__":
    unittest.main()
