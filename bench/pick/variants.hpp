#pragma once
// The variants of agentreg-bench pick, one source file each.

#include <cstdint>
#include <memory>
#include <string>

#include "bench/pg_database.hpp"
#include "bench/pick/fleet.hpp"

namespace agentreg::bench::pick {

/// agentreg::registry in-process (no database): acquire() and release().
std::unique_ptr<variant> make_agentreg_variant();

/// agentreg over HTTP: a running agentregd at `url` (POST /v1/leases,
/// DELETE /v1/leases/{id}), one keep-alive connection per client. Registers
/// the fleet there (again for a second variant: it then exists already).
/// `pipelined`: the DELETE goes out with the next POST, unanswered, as the
/// Redis variant's release does; else each request waits for its answer.
std::unique_ptr<variant> make_agentreg_http_variant(const std::string& url, bool pipelined);

/// bench/mutex_set_baseline.hpp: a std::set ordered by load/capacity
/// behind one std::mutex, in-process.
std::unique_ptr<variant> make_mutex_set_variant();

/// Redis: a sorted set by load/capacity, one Lua script per pick and one
/// per release (EVALSHA). `pipelined`: the release goes out with the next
/// pick, unanswered; else each command waits for its reply.
std::unique_ptr<variant> make_redis_variant(const std::string& host, std::uint16_t port, bool pipelined);

/// PostgreSQL: one prepared UPDATE ... WHERE id = (SELECT ... ORDER BY
/// load/capacity LIMIT 1 FOR UPDATE SKIP LOCKED) per pick, one UPDATE per
/// release, each its own transaction, on a fresh database of `server`.
/// `synchronous_commit` false sets it off for the benchmark's sessions.
std::unique_ptr<variant> make_postgresql_variant(pg_server& server, bool synchronous_commit);

/// etcd v3 through its JSON gateway: a range sorted by value (limit 16)
/// per pick, then a transaction comparing the key's mod revision and
/// putting load + 1, retried on conflict; release the same with load - 1.
std::unique_ptr<variant> make_etcd_variant(const std::string& url);

}  // namespace agentreg::bench::pick
