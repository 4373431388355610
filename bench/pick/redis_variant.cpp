#include <stdexcept>

#include "bench/clients/redis_client.hpp"
#include "bench/pick/variants.hpp"

namespace agentreg::bench::pick {

namespace {

// Keys of the fleet: a sorted set of agent ids scored by load/capacity,
// and two hashes (load and capacity by id).
const std::string by_ratio_key = "agentreg-bench:pick:by_ratio";
const std::string load_key = "agentreg-bench:pick:load";
const std::string capacity_key = "agentreg-bench:pick:capacity";

// One script per pick: Redis runs a script atomically, so the lowest-ratio
// member cannot be taken twice, in one round trip. (MULTI + WATCH would
// need a read, then a transaction that fails whenever another client
// touched the set: with every client wanting the same lowest member, most
// would retry.) Ties are ordered by member name, so every pick goes to the
// first free agent: Redis serializes all clients anyway.
const std::string pick_script = R"(
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #first == 0 or tonumber(first[2]) >= 1 then return false end
local id = first[1]
local load = redis.call('HINCRBY', KEYS[2], id, 1)
local capacity = tonumber(redis.call('HGET', KEYS[3], id))
redis.call('ZADD', KEYS[1], load / capacity, id)
return id
)";

const std::string release_script = R"(
local load = redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
if load < 0 then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  return -1
end
local capacity = tonumber(redis.call('HGET', KEYS[3], ARGV[1]))
redis.call('ZADD', KEYS[1], load / capacity, ARGV[1])
return load
)";

std::string load_script(redis_client& c, const std::string& body) {
  auto r = c.command({"SCRIPT", "LOAD", body});
  if (r.type != redis_reply::kind::string)
    throw std::runtime_error{"redis SCRIPT LOAD: " + r.text};
  return r.text;
}

class redis_pick_client final : public client {
 public:
  redis_pick_client(const std::string& host, std::uint16_t port, std::string pick_sha, std::string release_sha,
                    bool pipelined)
      : redis_(host, port), pick_sha_(std::move(pick_sha)), release_sha_(std::move(release_sha)),
        pipelined_(pipelined) {}

  // Pipelined: a scheduler releases a slot when its task ends and need not
  // wait for the answer before its next pick, so the release goes out in
  // the same write as the next pick and both replies come back in one
  // read (what an auto-pipelining client such as ioredis or Lettuce does).
  // Else every command waits for its reply (redis-py, hiredis' blocking
  // API), as the agentreg_http variant's requests do.
  std::optional<std::uint32_t> acquire() override {
    const bool had_release = pending_.has_value();
    if (had_release)
      append_release(*pending_);
    pending_.reset();
    redis_.append({"EVALSHA", pick_sha_, "3", by_ratio_key, load_key, capacity_key});
    if (had_release)
      check_release(redis_.reply());
    const auto r = redis_.reply();
    if (r.type != redis_reply::kind::string)
      return std::nullopt;
    return index_of(r.text);
  }

  void release(std::uint32_t agent) override {
    if (pipelined_) {
      pending_ = agent;
      return;
    }
    append_release(agent);
    check_release(redis_.reply());
  }

  void finish() override {
    if (!pending_)
      return;
    append_release(*pending_);
    pending_.reset();
    check_release(redis_.reply());
  }

 private:
  void append_release(std::uint32_t agent) {
    redis_.append({"EVALSHA", release_sha_, "3", by_ratio_key, load_key, capacity_key, agent_id(agent)});
  }

  static void check_release(const redis_reply& r) {
    if (r.type != redis_reply::kind::integer || r.integer < 0)
      throw std::runtime_error{"redis release refused: " + r.text};
  }

  redis_client redis_;
  std::string pick_sha_, release_sha_;
  bool pipelined_;
  std::optional<std::uint32_t> pending_;
};

class redis_variant final : public variant {
 public:
  redis_variant(std::string host, std::uint16_t port, bool pipelined)
      : host_(std::move(host)), port_(port), pipelined_(pipelined), admin_(host_, port_) {
    pick_sha_ = load_script(admin_, pick_script);
    release_sha_ = load_script(admin_, release_script);
    reset();
  }

  [[nodiscard]] std::string key() const override { return pipelined_ ? "redis_lua_pipelined" : "redis_lua"; }
  [[nodiscard]] std::string description() const override {
    return pipelined_ ? "Redis: Lua script per pick and per release, release pipelined with the next pick"
                      : "Redis: Lua script per pick and per release, each reply awaited";
  }
  std::unique_ptr<client> connect() override {
    return std::make_unique<redis_pick_client>(host_, port_, pick_sha_, release_sha_, pipelined_);
  }

  [[nodiscard]] std::string server_version() override {
    const auto info = admin_.command({"INFO", "server"}).text;
    const auto at = info.find("redis_version:");
    if (at == std::string::npos)
      return "unknown";
    const auto start = at + 14;
    return info.substr(start, info.find_first_of("\r\n", start) - start);
  }

  std::int64_t total_load() override {
    const auto r = admin_.command({"HVALS", load_key});
    std::int64_t sum = 0;
    for (const auto& e : r.elements)
      sum += std::stoll(e.text);
    return sum;
  }

  void reset() override {
    admin_.command({"DEL", by_ratio_key, load_key, capacity_key});
    for (std::uint32_t i = 0; i < agent_count; ++i) {
      const std::string id = agent_id(i);
      admin_.append({"HSET", load_key, id, std::to_string(preload_of(i))});
      admin_.append({"HSET", capacity_key, id, std::to_string(capacity_of(i))});
      admin_.append({"ZADD", by_ratio_key,
                     std::to_string(static_cast<double>(preload_of(i)) / capacity_of(i)), id});
    }
    for (std::uint32_t i = 0; i < 3 * agent_count; ++i)
      if (const auto r = admin_.reply(); r.type == redis_reply::kind::error)
        throw std::runtime_error{"redis reset: " + r.text};
  }

 private:
  std::string host_;
  std::uint16_t port_;
  bool pipelined_;
  redis_client admin_;
  std::string pick_sha_, release_sha_;
};

}  // namespace

std::unique_ptr<variant> make_redis_variant(const std::string& host, std::uint16_t port, bool pipelined) {
  return std::make_unique<redis_variant>(host, port, pipelined);
}

}  // namespace agentreg::bench::pick
