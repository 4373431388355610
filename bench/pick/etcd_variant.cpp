#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <unordered_map>

#include "bench/clients/etcd_client.hpp"
#include "bench/pick/variants.hpp"

namespace agentreg::bench::pick {

namespace {

const std::string prefix = "/agentreg-bench/pick/";

// A value sorts by ratio: "0.500000 1 2" is load/capacity with six
// decimals (a fixed width, so byte order is ratio order), then load and
// capacity. etcd sorts a range by value on the server, so one request
// answers the lowest ratios.
std::string value_of(std::uint32_t load, std::uint32_t capacity) {
  char v[48];
  std::snprintf(v, sizeof v, "%.6f %u %u", static_cast<double>(load) / capacity, load, capacity);
  return v;
}

struct parsed {
  std::uint32_t load = 0, capacity = 0;
};

parsed parse(const std::string& value) {
  parsed p;
  if (std::sscanf(value.c_str(), "%*f %u %u", &p.load, &p.capacity) != 2)
    throw std::runtime_error{"etcd: unexpected value '" + value + "'"};
  return p;
}

// Retries of one operation before it counts as failed: far above what two
// clients produce, and a bound if something is wrong.
constexpr int max_attempts = 1000;
// How many of the lowest-ratio keys a pick reads: clients choose at random
// among the tied ones, so two of them rarely go for the same key.
constexpr int pick_candidates = 16;

class etcd_pick_client final : public client {
 public:
  explicit etcd_pick_client(const std::string& url) : etcd_(url), random_(std::random_device{}()) {}

  std::optional<std::uint32_t> acquire() override {
    for (int attempt = 0; attempt < max_attempts; ++attempt) {
      const auto kvs = etcd_.range_prefix(prefix, pick_candidates, true);
      if (kvs.empty())
        return std::nullopt;
      const std::string lowest = kvs.front().value.substr(0, kvs.front().value.find(' '));
      if (std::strtod(lowest.c_str(), nullptr) >= 1.0)
        return std::nullopt;  // the lowest ratio is full: every agent is
      std::size_t tied = 1;
      while (tied < kvs.size() && kvs[tied].value.compare(0, lowest.size(), lowest) == 0)
        ++tied;
      const auto& kv = kvs[std::uniform_int_distribution<std::size_t>{0, tied - 1}(random_)];
      const parsed p = parse(kv.value);
      const auto r = etcd_.put_if_unchanged(kv.key, value_of(p.load + 1, p.capacity), kv.mod_revision);
      if (r.succeeded) {
        const auto agent = index_of(kv.key.substr(prefix.size()));
        if (agent)
          known_[*agent] = {r.revision, p.load + 1, p.capacity};
        return agent;
      }
      ++conflicts_;
    }
    return std::nullopt;
  }

  // The client knows the key as its pick left it; if someone changed it
  // since, the failed transaction answers the key as it is now.
  void release(std::uint32_t agent) override {
    const std::string key = prefix + agent_id(agent);
    auto it = known_.find(agent);
    if (it == known_.end())
      throw std::runtime_error{"etcd release of an agent never picked"};
    state s = it->second;
    for (int attempt = 0; attempt < max_attempts; ++attempt) {
      if (s.load == 0)
        throw std::runtime_error{"etcd release: load already 0 on " + key};
      const auto r = etcd_.put_if_unchanged(key, value_of(s.load - 1, s.capacity), s.mod_revision);
      if (r.succeeded) {
        known_.erase(it);
        return;
      }
      ++conflicts_;
      if (!r.current)
        throw std::runtime_error{"etcd release: " + key + " is gone"};
      const parsed p = parse(r.current->value);
      s = {r.current->mod_revision, p.load, p.capacity};
    }
    throw std::runtime_error{"etcd release: too many conflicts on " + key};
  }

  [[nodiscard]] std::uint64_t conflicts() const override { return conflicts_; }

 private:
  struct state {
    std::int64_t mod_revision = 0;
    std::uint32_t load = 0, capacity = 0;
  };
  etcd_client etcd_;
  std::mt19937_64 random_;
  std::unordered_map<std::uint32_t, state> known_;
  std::uint64_t conflicts_ = 0;
};

class etcd_variant final : public variant {
 public:
  explicit etcd_variant(std::string url) : url_(std::move(url)), admin_(url_) { reset(); }

  [[nodiscard]] std::string key() const override { return "etcd_txn"; }
  [[nodiscard]] std::string description() const override {
    return "etcd v3 JSON gateway: sorted range + mod-revision txn, retried";
  }
  std::unique_ptr<client> connect() override { return std::make_unique<etcd_pick_client>(url_); }

  std::int64_t total_load() override {
    std::int64_t sum = 0;
    for (const auto& kv : admin_.range_prefix(prefix))
      sum += parse(kv.value).load;
    return sum;
  }

  void reset() override {
    admin_.delete_prefix(prefix);
    for (std::uint32_t i = 0; i < agent_count; ++i)
      admin_.put(prefix + agent_id(i), value_of(preload_of(i), capacity_of(i)));
  }

  [[nodiscard]] std::string server_version() override { return admin_.server_version(); }

 private:
  std::string url_;
  etcd_client admin_;
};

}  // namespace

std::unique_ptr<variant> make_etcd_variant(const std::string& url) {
  return std::make_unique<etcd_variant>(url);
}

}  // namespace agentreg::bench::pick
