#include "actors/scheduler.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/policy/work_sharing.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_set>

namespace agentreg::actors {
namespace {

using caf::abstract_actor;
using caf::atom_value;
using caf::message_id;

// CAF's clock, with cancel_timeouts asked of it only for actors that set a
// timeout. Derived from thread_safe_actor_clock only because the
// coordinator's clock() must return one; the base part is never used (its
// dispatch loop never runs): every call goes to `real`.
class filtered_clock final : public caf::detail::thread_safe_actor_clock {
 public:
  explicit filtered_clock(caf::detail::thread_safe_actor_clock& real) : real_(real) {}

  time_point now() const noexcept override { return real_.now(); }

  duration_type difference(atom_value measurement, long units, time_point t0, time_point t1) const noexcept override {
    return real_.difference(measurement, units, t0, t1);
  }

  void set_ordinary_timeout(time_point t, abstract_actor* self, atom_value type, uint64_t id) override {
    note(self);
    real_.set_ordinary_timeout(t, self, type, id);
  }

  void set_multi_timeout(time_point t, abstract_actor* self, atom_value type, uint64_t id) override {
    note(self);
    real_.set_multi_timeout(t, self, type, id);
  }

  void set_request_timeout(time_point t, abstract_actor* self, message_id id) override {
    note(self);
    real_.set_request_timeout(t, self, id);
  }

  void cancel_ordinary_timeout(abstract_actor* self, atom_value type) override {
    real_.cancel_ordinary_timeout(self, type);
  }

  void cancel_request_timeout(abstract_actor* self, message_id id) override { real_.cancel_request_timeout(self, id); }

  // An actor's timeouts are all set by the actor itself, before its cleanup
  // (the only caller) runs: an actor not noted by then has none.
  void cancel_timeouts(abstract_actor* self) override {
    if (forget(self)) {
      passed_.fetch_add(1, std::memory_order_relaxed);
      real_.cancel_timeouts(self);
    } else {
      skipped_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void schedule_message(time_point t, caf::strong_actor_ptr receiver, caf::mailbox_element_ptr content) override {
    real_.schedule_message(t, std::move(receiver), std::move(content));
  }

  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                        caf::message content) override {
    real_.schedule_message(t, std::move(target), std::move(sender), std::move(content));
  }

  void cancel_all() override { real_.cancel_all(); }

  clock_counters counters() {
    clock_counters c;
    c.installed = true;
    for (auto& s : shards_) {
      std::lock_guard lock{s.mutex};
      c.timed_actors += s.timed.size();
    }
    // relaxed: counters for tests, read when the actors counted are done.
    c.cancellations_passed = passed_.load(std::memory_order_relaxed);
    c.cancellations_skipped = skipped_.load(std::memory_order_relaxed);
    return c;
  }

 private:
  // Sharded by actor id, so that two threads setting request timeouts
  // rarely meet on one lock.
  struct shard {
    std::mutex mutex;
    std::unordered_set<caf::actor_id> timed;  // guarded by mutex
  };
  static constexpr std::size_t shard_count = 16;

  shard& shard_of(const abstract_actor* self) { return shards_[self->id() % shard_count]; }

  void note(const abstract_actor* self) {
    auto& s = shard_of(self);
    std::lock_guard lock{s.mutex};
    s.timed.insert(self->id());
  }

  bool forget(const abstract_actor* self) {
    auto& s = shard_of(self);
    std::lock_guard lock{s.mutex};
    return s.timed.erase(self->id()) > 0;
  }

  caf::detail::thread_safe_actor_clock& real_;
  std::array<shard, shard_count> shards_;
  std::atomic<std::uint64_t> passed_{0}, skipped_{0};
};

template <class Policy>
class engine_coordinator final : public caf::scheduler::coordinator<Policy> {
  using super = caf::scheduler::coordinator<Policy>;

 public:
  explicit engine_coordinator(caf::actor_system& sys) : super(sys), clock_(super::clock()) {}

  caf::detail::thread_safe_actor_clock& clock() noexcept override { return clock_; }

 private:
  filtered_clock clock_;
};

template <class Policy>
void load(caf::actor_system_config& cfg) {
  cfg.module_factories.push_back(
      [](caf::actor_system& sys) -> caf::actor_system::module* { return new engine_coordinator<Policy>(sys); });
}

}  // namespace

clock_counters engine_clock_counters(caf::actor_system& sys) {
  auto* clock = dynamic_cast<filtered_clock*>(&sys.clock());
  return clock != nullptr ? clock->counters() : clock_counters{};
}

void use_engine_scheduler(caf::actor_system_config& cfg, scheduling policy) {
  if (policy == scheduling::stealing)
    load<caf::policy::work_stealing>(cfg);
  else
    load<caf::policy::work_sharing>(cfg);
}

}  // namespace agentreg::actors
