#include "core/change_log.hpp"

#include <algorithm>
#include <bit>

namespace agentreg::core {

const char* to_string(change_kind k) {
  switch (k) {
    case change_kind::agent_registered: return "agent_registered";
    case change_kind::agent_updated: return "agent_updated";
    case change_kind::status_changed: return "status_changed";
    case change_kind::load_changed: return "load_changed";
    case change_kind::agent_unregistered: return "agent_unregistered";
    case change_kind::lease_granted: return "lease_granted";
    case change_kind::lease_released: return "lease_released";
    case change_kind::leases_expired: return "leases_expired";
    case change_kind::execution_completed: return "execution_completed";
    case change_kind::sweep_degraded: return "sweep_degraded";
  }
  return "unknown";
}

/// One thread's changes waiting for the publisher: a single-producer,
/// single-consumer ring (the producer is the thread, the consumer whoever
/// holds publish_mutex_).
struct change_log::lane {
  explicit lane(std::size_t capacity) : slots(std::bit_ceil(std::max<std::size_t>(capacity, 2))), mask(slots.size() - 1) {}

  std::vector<pending_change> slots;
  const std::size_t mask;
  // Producer stores (release, after writing the slot); the consumer loads
  // (acquire) before reading slots.
  alignas(64) std::atomic<std::uint64_t> head{0};
  // Consumer stores (release, after moving a slot out); the producer loads
  // (acquire) before reusing a slot.
  alignas(64) std::atomic<std::uint64_t> tail{0};
  // Changes that found the ring full. Producer only writes (release); the
  // consumer reads (acquire) to publish a gap.
  std::atomic<std::uint64_t> dropped{0};
  // The thread exited (release, after its last change); the consumer drains
  // the lane once more and forgets it (acquire).
  std::atomic<bool> orphaned{false};
  // The log was destroyed: the thread forgets the lane (relaxed: only read
  // by the thread when it looks for another log's lane).
  std::atomic<bool> log_gone{false};

  // The producer's own (no other thread reads them): the agents, by index
  // handle, this lane recorded a change of since publishing round
  // `marks_round` began (see coalesces()). Direct-mapped: an agent whose
  // entry another one took is recorded again, which is only more work.
  struct mark {
    std::uint32_t pool = 0, slot = 0, generation = 0;
    bool used = false;
  };
  static constexpr std::size_t mark_count = 64;
  // Its own line: `tail` above is the publisher's.
  alignas(64) std::uint64_t marks_round = ~std::uint64_t{0};
  std::array<mark, mark_count> marks{};
  static std::size_t mark_of(std::uint32_t pool, std::uint32_t slot) { return (slot * 31u + pool) % mark_count; }
};

namespace {

// The logs' lanes of one thread; marked orphaned when the thread exits.
struct thread_lanes {
  struct entry {
    std::uint64_t log_id;
    std::shared_ptr<void> lane;  // a change_log::lane (private type)
    std::atomic<bool>* orphaned;
    std::atomic<bool>* log_gone;
  };
  std::vector<entry> entries;
  ~thread_lanes() {
    for (auto& e : entries)
      e.orphaned->store(true, std::memory_order_release);  // pairs with the acquire in publish()
  }
};

thread_local thread_lanes this_thread_lanes;

std::atomic<std::uint64_t> next_log_id{1};

}  // namespace

namespace {

change_log::options checked(change_log::options o) {
  o.capacity = std::max<std::size_t>(o.capacity, 1);  // a ring of none has no oldest to drop
  return o;
}

}  // namespace

change_log::change_log(options opts, resolver resolve)
    : opts_(checked(opts)),
      resolve_(std::move(resolve)),
      // relaxed: only uniqueness matters.
      id_(next_log_id.fetch_add(1, std::memory_order_relaxed)),
      compacted_revision_(opts.first_revision),
      revision_(opts.first_revision) {
  publisher_ = std::thread{[this] { run_publisher(); }};
}

change_log::~change_log() {
  {
    std::lock_guard guard{wake_mutex_};
    stopping_ = true;
  }
  wake_.notify_one();
  publisher_.join();
  std::lock_guard guard{lanes_mutex_};
  for (auto& l : lanes_)
    l->log_gone.store(true, std::memory_order_relaxed);
}

change_log::lane& change_log::mine() {
  auto& entries = this_thread_lanes.entries;
  for (auto& e : entries)
    if (e.log_id == id_)
      return *static_cast<lane*>(e.lane.get());
  // First change of this thread in this log: forget the lanes of logs that
  // are gone, make one.
  std::erase_if(entries, [](const thread_lanes::entry& e) { return e.log_gone->load(std::memory_order_relaxed); });
  auto l = std::make_shared<lane>(opts_.lane_capacity);
  {
    std::lock_guard guard{lanes_mutex_};
    lanes_.push_back(l);
  }
  entries.push_back({id_, l, &l->orphaned, &l->log_gone});
  return *l;
}

bool change_log::coalesces(std::uint32_t pool, std::uint32_t slot, std::uint32_t generation) {
  lane& l = mine();
  // round_ is odd while a round is published, even between rounds. The
  // fence orders the caller's change of the agent (made before this call)
  // before the load of round_, against publish(), which makes round_ odd
  // and then fences before it reads the lanes and resolves their agents.
  // So when the load reads the even value the mark was made under, every
  // round that can take the marked change has not passed its fence yet: it
  // resolves the agent after the caller's change and publishes its state.
  // An odd value (a round under way, which may have taken the marked change
  // already) or a newer one records the change.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const auto round = round_.load(std::memory_order_acquire);  // pairs with the end of publish()
  if (round != l.marks_round) {
    l.marks.fill({});
    l.marks_round = round;
    return false;
  }
  if (round % 2 == 1)
    return false;
  const auto& m = l.marks[lane::mark_of(pool, slot)];
  return m.used && m.pool == pool && m.slot == slot && m.generation == generation;
}

void change_log::record(pending_change c) {
  lane& l = mine();
  const auto h = l.head.load(std::memory_order_relaxed);  // own variable
  if (h - l.tail.load(std::memory_order_acquire) > l.mask) {
    l.dropped.store(l.dropped.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  } else {
    if (c.by_handle)  // coalesces() answers for it from now on (marks_round is the round it read)
      l.marks[lane::mark_of(c.pool, c.slot)] = {c.pool, c.slot, c.generation, true};
    l.slots[h & l.mask] = std::move(c);
    l.head.store(h + 1, std::memory_order_release);  // pairs with the acquire in publish()
  }
  // Wake the publisher unless it is already told. The fence orders the head
  // store before the flag's load, against the publisher's exchange: either
  // it sees our head after clearing the flag, or we see the flag cleared.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!signalled_.load(std::memory_order_relaxed) && !signalled_.exchange(true, std::memory_order_acq_rel)) {
    std::lock_guard guard{wake_mutex_};
    wake_.notify_one();
  }
}

void change_log::publish(std::size_t limit) {
  // A round under way (round_ odd until it ends): changes from here on are
  // not coalesced into the ones it may take. The fence pairs with the one in
  // coalesces(): what the lanes and the agents read below includes every
  // change coalesced under the even value before.
  const auto round = round_.load(std::memory_order_relaxed);  // written under publish_mutex_ only
  round_.store(round + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  std::vector<std::shared_ptr<lane>> lanes;
  {
    std::lock_guard guard{lanes_mutex_};
    lanes = lanes_;
  }
  // Each pending change becomes a change where it lies (its agent resolved
  // before its strings move), into a buffer kept from round to round: a
  // vector made per round was thousands of changes long, and its fresh
  // pages cost the publisher a page fault every few changes.
  ready_.clear();
  std::uint64_t dropped_now = dropped_retired_;
  std::vector<lane*> finished;  // orphaned and drained: forget them
  for (auto& l : lanes) {
    const bool orphaned = l->orphaned.load(std::memory_order_acquire);  // pairs with ~thread_lanes
    const auto h = l->head.load(std::memory_order_acquire);            // pairs with record()
    auto t = l->tail.load(std::memory_order_relaxed);                  // own variable
    for (; t < h && ready_.size() < limit; ++t) {
      pending_change& p = l->slots[t & l->mask];
      change& c = ready_.emplace_back();
      if (!resolve_(p, c)) {
        ready_.pop_back();
        continue;
      }
      c.kind = p.kind;
      c.at = p.at;
      c.count = p.count;
      if (c.agent_id.empty())  // gone: what was recorded
        c.agent_id = std::move(p.agent_id);
      if (c.agent_type.empty())
        c.agent_type = std::move(p.agent_type);
      if (p.kind == change_kind::execution_completed)
        c.execution_id = to_string(p.execution_id);
      c.outcome = p.outcome;
      c.duration_ms = p.duration_ms;
      c.total_tokens = p.total_tokens;
      c.cost_micro_usd = p.cost_micro_usd;
    }
    l->tail.store(t, std::memory_order_release);  // pairs with the acquire in record()
    dropped_now += l->dropped.load(std::memory_order_acquire);
    if (orphaned && t == h)
      finished.push_back(l.get());
  }
  // Every change this round takes is resolved: marks made from here on are
  // made under the even value, for changes this round did not take (release:
  // pairs with the acquire in coalesces(), so a change recorded after
  // reading it was not among the ones this round read from the lanes).
  round_.store(round + 2, std::memory_order_release);
  if (!finished.empty()) {
    std::lock_guard guard{lanes_mutex_};
    std::erase_if(lanes_, [&](const std::shared_ptr<lane>& l) {
      if (std::find(finished.begin(), finished.end(), l.get()) == finished.end())
        return false;
      dropped_retired_ += l->dropped.load(std::memory_order_acquire);
      return true;
    });
  }

  std::uint64_t rev = 0;
  bool grew = false;
  {
    std::lock_guard guard{ring_mutex_};
    rev = revision_.load(std::memory_order_relaxed);  // written under this lock only
    if (dropped_now > dropped_seen_) {
      // A gap: some change was not kept. Every revision up to this one is
      // compacted, so a watcher that could have missed it re-lists.
      dropped_seen_ = dropped_now;
      compacted_revision_ = ++rev;
      ring_first_ = ring_count_ = 0;
      grew = true;
    }
    for (auto& c : ready_) {
      c.revision = ++rev;
      push(std::move(c));
      grew = true;
    }
    revision_.store(rev, std::memory_order_release);  // pairs with published_revision()
  }
  if (grew) {
    std::lock_guard guard{subscribers_mutex_};
    for (auto& s : subscribers_)
      s.call(rev);
  }
}

void change_log::push(change&& c) {
  if (ring_count_ < ring_.size()) {  // a slot the ring had before (after a gap, or not yet wrapped)
    ring_[(ring_first_ + ring_count_) % ring_.size()] = std::move(c);
    ++ring_count_;
  } else if (ring_.size() < opts_.capacity) {  // not yet wrapped, so ring_first_ is 0
    ring_.push_back(std::move(c));
    ++ring_count_;
  } else {  // full: the oldest goes
    compacted_revision_ = ring_[ring_first_].revision;
    ring_[ring_first_] = std::move(c);
    ring_first_ = (ring_first_ + 1) % ring_.size();
  }
}

void change_log::run_publisher() {
  std::unique_lock lock{wake_mutex_};
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || signalled_.load(std::memory_order_acquire); });
    if (stopping_)
      return;
    lock.unlock();
    // Cleared before draining: a change recorded from here on sets it again.
    signalled_.exchange(false, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    {
      std::lock_guard guard{publish_mutex_};
      publish(opts_.round_limit);
    }
    lock.lock();
    // Rounds at most every publish_interval: changes coming faster wait
    // for the next round together (one wake-up, one subscriber call).
    wake_.wait_for(lock, opts_.publish_interval, [this] { return stopping_; });
  }
}

change_batch change_log::changes_since(std::uint64_t revision, std::size_t max) {
  {
    std::lock_guard guard{publish_mutex_};
    publish(std::numeric_limits<std::size_t>::max());
  }
  change_batch out;
  std::lock_guard guard{ring_mutex_};
  out.revision = revision_.load(std::memory_order_relaxed);  // written under this lock only
  out.compacted_revision = compacted_revision_;
  if (revision < compacted_revision_ || revision > out.revision) {
    out.compacted = true;
    return out;
  }
  if (ring_count_ == 0 || revision >= out.revision)
    return out;
  // Revisions in the ring are consecutive (a gap empties it).
  const auto skip = static_cast<std::size_t>(revision + 1 - ring_[ring_first_].revision);
  const auto n = std::min<std::size_t>(max, ring_count_ - skip);
  out.changes.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    out.changes.push_back(ring_[(ring_first_ + skip + i) % ring_.size()]);
  return out;
}

std::uint64_t change_log::revision() {
  std::lock_guard guard{publish_mutex_};
  publish(std::numeric_limits<std::size_t>::max());
  return revision_.load(std::memory_order_acquire);
}

std::uint64_t change_log::compacted_revision() const {
  std::lock_guard guard{ring_mutex_};
  return compacted_revision_;
}

std::uint64_t change_log::dropped() const {
  std::lock_guard guard{publish_mutex_};
  return dropped_seen_;
}

std::unique_ptr<change_log::subscription> change_log::subscribe(subscriber s) {
  std::lock_guard guard{subscribers_mutex_};
  const auto id = next_subscriber_++;
  subscribers_.push_back({id, std::move(s)});
  return std::make_unique<subscription>(*this, id);
}

change_log::subscription::~subscription() {
  std::lock_guard guard{log_.subscribers_mutex_};
  std::erase_if(log_.subscribers_, [this](const subscriber_entry& e) { return e.id == id_; });
}

}  // namespace agentreg::core
