"""SIGTERM on a real agentregd with a real PostgreSQL: everything accepted
before it is written before the process exits 0."""

import random
import unittest

from harness import SUMMARY_FIELDS, Daemon, ModulePostgres, sql_totals, totals

pg = ModulePostgres()
setUpModule, tearDownModule = pg.set_up, pg.tear_down


class restart(unittest.TestCase):
    maxDiff = None
    def test_sigterm_writes_everything_accepted_then_exits_0(self):
        db = pg.new_database()
        # Nothing is written on its own before the stop: no batch fills, no
        # interval passes. What the database holds afterwards, SIGTERM wrote.
        daemon = Daemon(db, "--flush-interval-ms", "3600000", "--batch-size", "1000000",
                        "--performance-update-interval-s", "3600").start()
        try:
            reg = daemon.client()
            rng = random.Random(7)
            for i in range(12):
                reg.register(f"term-{i}", f"type-{i % 3}", model_name=f"model-{i % 2}", llm_provider="p",
                             max_capacity=8, metadata={"n": str(i)})
            running = []
            for n in range(300):
                agent_id = f"term-{n % 12}"
                execution_id = reg.start_execution(agent_id, task_type=f"task-{n % 4}", workflow_slug="wf")
                if n % 6 == 5:
                    running.append(execution_id)
                    continue
                status = ("success", "failed", "timeout")[n % 3]
                reg.complete_execution(execution_id, status, prompt_tokens=rng.randrange(5000),
                                       completion_tokens=rng.randrange(2000),
                                       estimated_cost_usd=rng.randrange(100_000) / 1e6, retry_count=n % 2)
                reg.record_tool_usage(agent_id, f"tool-{n % 5}", execution_id=execution_id,
                                      success_count=1, failure_count=n % 2, duration_ms=n % 50)
            reg.update_status("term-3", "paused")
            reg.update_load("term-4", 5)
            lease = reg.acquire("type-0", ttl_ms=3_600_000)
            self.assertEqual(pg.value("SELECT count(*) FROM agent_executions", db), "0",
                             "rows were written before the stop: this test would prove nothing")
            agents = {a["agent_id"]: a for a in reg.list_agents()}
            by = {d: totals(reg.get_performance_by(d)) for d in ("agent", "agent_type", "model", "task_type")}
            tools = {(a, t["tool_name"]): (t["invocation_count"], t["success_count"], t["failure_count"])
                     for a in agents for t in reg.get_tool_usage(a)}

            self.assertEqual(daemon.terminate(), 0, daemon.log())
            self.assertRegex(daemon.log(), r"stopped after \d+ requests")
        finally:
            if daemon.alive():
                daemon.kill()

        self.assertEqual(pg.value("SELECT count(*) FROM agent_executions WHERE status <> 'running'", db), "250")
        self.assertEqual(sorted(r[0] for r in pg.sql("SELECT id FROM agent_executions WHERE status = 'running'", db)),
                         sorted(running))
        self.assertEqual(sql_totals(pg, db, "agent_id"), by["agent"])
        self.assertEqual(sql_totals(pg, db, "agent_type"), by["agent_type"])
        self.assertEqual(sql_totals(pg, db, "model_name"), by["model"])
        for dimension, expected in by.items():
            rows = pg.sql(f"SELECT key, {', '.join(SUMMARY_FIELDS)} FROM agent_performance_summary "
                          f"WHERE dimension = '{dimension}'", db)
            self.assertEqual({r[0]: tuple(int(v) for v in r[1:]) for r in rows}, expected, dimension)
        rows = pg.sql("SELECT agent_id, tool_name, invocation_count, success_count, failure_count "
                      "FROM agent_tool_usage", db)
        self.assertEqual({(r[0], r[1]): tuple(int(v) for v in r[2:]) for r in rows}, tools)
        rows = pg.sql("SELECT agent_id, agent_type, model_name, status, current_load, max_capacity, metadata->>'n' "
                      "FROM agent_instances WHERE unregistered_at IS NULL", db)
        self.assertEqual({r[0]: r[1:] for r in rows},
                         {a["agent_id"]: (a["agent_type"], a["model_name"], a["status"], str(a["current_load"]),
                                          str(a["max_capacity"]), a["metadata"]["n"]) for a in agents.values()})
        self.assertEqual(agents["term-3"]["status"], "paused")
        self.assertEqual(agents[lease["agent_id"]]["current_load"] >= 1, True)

if __name__ == "__main__":
    unittest.main()
