#include "bench/mutex_set_baseline.hpp"
#include "bench/pick/variants.hpp"

namespace agentreg::bench::pick {

namespace {

class mutex_set_client final : public client {
 public:
  explicit mutex_set_client(mutex_set_baseline& set) : set_(set) {}
  std::optional<std::uint32_t> acquire() override { return set_.acquire(); }
  void release(std::uint32_t agent) override { set_.release(agent); }

 private:
  mutex_set_baseline& set_;
};

// The set's agent ids are its insertion order, which is the fleet's index.
class mutex_set_variant final : public variant {
 public:
  mutex_set_variant() { reset(); }

  [[nodiscard]] std::string key() const override { return "mutex_set"; }
  [[nodiscard]] std::string description() const override { return "std::mutex + std::set, in-process"; }
  [[nodiscard]] bool remote() const override { return false; }
  std::unique_ptr<client> connect() override { return std::make_unique<mutex_set_client>(*set_); }

  std::int64_t total_load() override {
    std::int64_t sum = 0;
    for (std::uint32_t i = 0; i < agent_count; ++i)
      sum += set_->load(i);
    return sum;
  }

  // The baseline has no "set load": a fresh set takes the preload by
  // acquiring, least-loaded first, until every agent is at capacity - 1.
  // Acquiring always takes the lowest ratio, so filling to (c-1)/c in
  // ratio order puts exactly capacity - 1 on each: an agent is picked
  // again only while its ratio is below every other agent's target.
  void reset() override {
    set_ = std::make_unique<mutex_set_baseline>();
    for (std::uint32_t i = 0; i < agent_count; ++i)
      set_->insert(capacity_of(i));
    std::vector<std::uint32_t> surplus;
    for (std::int64_t n = 0; n < total_preload();) {
      const auto a = set_->acquire();
      if (!a)
        break;
      if (set_->load(*a) > preload_of(*a)) {
        surplus.push_back(*a);  // above its preload: given back at the end
        continue;
      }
      ++n;
    }
    for (auto a : surplus)
      set_->release(a);
  }

 private:
  std::unique_ptr<mutex_set_baseline> set_;
};

}  // namespace

std::unique_ptr<variant> make_mutex_set_variant() {
  return std::make_unique<mutex_set_variant>();
}

}  // namespace agentreg::bench::pick
