"""SIGKILL of a real agentregd under load, then a new agentregd on the same
PostgreSQL database: it recovers the agents, and its totals (per agent, type
and model) equal what the committed execution rows say (issue 9, item 16,
seen over HTTP)."""

import random
import threading
import unittest

from harness import Daemon, ModulePostgres, sql_totals, totals, wait_until
from agentreg_client import AgentRegError

pg = ModulePostgres()
setUpModule, tearDownModule = pg.set_up, pg.tear_down


class crash(unittest.TestCase):
    maxDiff = None

    def test_after_sigkill_a_restart_recovers_the_agents_and_totals_equal_the_committed_rows(self):
        db = pg.new_database()
        first = Daemon(db, "--performance-update-interval-s", "1").start()
        try:
            reg = first.client()
            ids = [f"kill-{i}" for i in range(12)]
            for i, agent_id in enumerate(ids):
                reg.register(agent_id, f"type-{i % 3}", model_name=f"model-{i % 2}", max_capacity=4)
            wait_until(lambda: pg.value("SELECT count(*) FROM agent_instances", db) == "12", "the agents written")

            completed = []
            stop = threading.Event()
            errors = []

            def work(seed):
                client = first.client()
                rng = random.Random(seed)
                try:
                    while not stop.is_set():
                        agent_id = rng.choice(ids)
                        execution_id = client.start_execution(agent_id, task_type="t")
                        client.complete_execution(execution_id, rng.choice(("success", "failed")),
                                                  prompt_tokens=rng.randrange(1000),
                                                  completion_tokens=rng.randrange(1000),
                                                  estimated_cost_usd=rng.randrange(10_000) / 1e6)
                        completed.append(execution_id)
                except (OSError, AgentRegError) as e:
                    if not stop.is_set():
                        errors.append(e)

            threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
            for t in threads:
                t.start()
            # Kill once some completions are committed and at least one
            # summary snapshot was written, under load.
            wait_until(lambda: int(pg.value("SELECT count(*) FROM agent_executions WHERE status <> 'running'", db))
                       >= 500, "500 completions committed")
            wait_until(lambda: pg.value("SELECT count(*) FROM agent_performance_summary", db) != "0",
                       "a summary snapshot written")
            stop.set()
            first.kill()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
        finally:
            if first.alive():
                first.kill()

        with Daemon(db) as second:
            reg = second.client()
            wait_until(lambda: self.ready(reg), "the restarted server ready (recovery done)")
            agents = reg.list_agents()
            self.assertEqual([a["agent_id"] for a in agents], sorted(ids))
            self.assertEqual({a["status"] for a in agents}, {"offline"})  # until they heartbeat
            self.assertEqual(totals(reg.get_performance_by("agent")), sql_totals(pg, db, "agent_id"))
            self.assertEqual(totals(reg.get_performance_by("agent_type")), sql_totals(pg, db, "agent_type"))
            self.assertEqual(totals(reg.get_performance_by("model")), sql_totals(pg, db, "model_name"))
            self.assertGreaterEqual(sum(t[0] for t in sql_totals(pg, db, "agent_id").values()), 500)
            self.assertEqual(reg.heartbeat("kill-0")["status"], "online")

    @staticmethod
    def ready(reg):
        try:
            return reg.ready()["ready"]
        except AgentRegError as e:
            if e.code != "not_ready":
                raise
            return False


if __name__ == "__main__":
    unittest.main()
