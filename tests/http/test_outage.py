"""agentregd while its PostgreSQL hangs or is down: what each client is
told, and that the server comes back with the database. Each module's
cluster is its own (harness.Postgres); a test that freezes or kills it
restarts it before it ends."""

import socket
import unittest

from harness import DEADLINE_S, Daemon, Postgres, connect, exchange, raw_request, read_response, wait_until

pg = None


def setUpModule():
    global pg
    pg = Postgres()


def tearDownModule():
    pg.close()


class engine_deadline(unittest.TestCase):
    def test_a_request_the_engine_never_answers_is_504_engine_timeout(self):
        db = pg.new_database()
        with Daemon(db, "--request-timeout-ms", "1000") as d:
            c = d.client()
            c.register("before-freeze", "deadline")
            # The writer is connected once the row is there.
            wait_until(lambda: pg.value("SELECT count(*) FROM agent_instances", db) == "1", "the first agent's row")
            pg.freeze()
            try:
                # A record for the writer, which sends it and then waits for a
                # database that never answers; meanwhile it answers nothing,
                # so /v1/stats (which asks every writer) cannot be answered.
                c.register("after-freeze", "deadline")

                def timed_out():
                    # Before the deadline existed nothing said so: the
                    # request waited as long as the writer did (15 s and
                    # more in a probe, or until the socket's timeout), and
                    # this wait ran out without a 504.
                    with connect(d.port, timeout=DEADLINE_S / 2) as sock:
                        sock.sendall(raw_request("GET", "/v1/stats"))
                        answer = read_response(sock)
                        self.assertIsNotNone(answer, "closed without an answer")
                        if answer.status == 200:  # asked before the writer took the record
                            return None
                        self.assertEqual(answer.status, 504, answer.body)
                        self.assertEqual(answer.json()["error"], "engine_timeout")
                        self.assertIn("--request-timeout-ms", answer.json()["message"])
                        self.assertEqual(answer.headers.get("connection"), "close")
                        self.assertIsNone(read_response(sock), "the connection stayed open after the 504")
                        return answer

                wait_until(timed_out, "a 504 from /v1/stats while the database hangs")
                # Routes that need no stuck part still answer meanwhile.
                self.assertEqual(exchange(d.port, raw_request("GET", "/health")).status, 200)
                self.assertEqual(c.get_agent("after-freeze")["agent_id"], "after-freeze")
            finally:
                pg.thaw()
            # With the database back, the writer answers again.
            stats = wait_until(lambda: c.stats(), "/v1/stats after the thaw")
            self.assertGreaterEqual(stats["server"]["engine_timeouts"], 1)
            wait_until(lambda: pg.value("SELECT count(*) FROM agent_instances", db) == "2", "the second agent's row")


class readiness(unittest.TestCase):
    def test_ready_is_503_until_recovery_from_the_database_is_done(self):
        db = pg.new_database()
        with Daemon(db) as first:
            c = first.client()
            for i in range(3):
                c.register(f"stored-{i}", "recovering")
            self.assertEqual(first.terminate(), 0, first.log())
        pg.down()
        try:
            with Daemon(db) as d:
                d.wait_for_line("could not recover from the database")
                answer = exchange(d.port, raw_request("GET", "/ready"))
                # Before readiness meant recovery, this was 200: no write had
                # failed yet, so the database counted as reachable.
                self.assertEqual(answer.status, 503, answer.body)
                self.assertEqual(answer.json()["error"], "not_ready")
                self.assertIn("recovery", answer.json()["message"])
                self.assertEqual(answer.headers.get("retry-after"), "1")
                self.assertEqual(d.client().list_agents(agent_type="recovering"), [])
                pg.up()
                d.wait_for_line(r"recovered 3 agents")
                self.assertEqual(d.client().ready(), {"ready": True, "persistence": "postgresql"})
                self.assertEqual(sorted(a["agent_id"] for a in d.client().list_agents(agent_type="recovering")),
                                 ["stored-0", "stored-1", "stored-2"])
        finally:
            pg.up()


if __name__ == "__main__":
    unittest.main()
