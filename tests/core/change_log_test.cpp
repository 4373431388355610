#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/change_log.hpp"

using namespace agentreg::core;

namespace {

// Resolves every change: the agent id is the serial's text.
change_log::resolver by_serial() {
  return [](const pending_change& in, change& out) {
    if (out.agent_id.empty())
      out.agent_id = "agent-" + std::to_string(in.serial);
    return true;
  };
}

pending_change load_change(std::uint64_t serial) {
  pending_change p;
  p.kind = change_kind::load_changed;
  p.serial = serial;
  return p;
}

change_log::options small(std::size_t capacity, std::size_t lane_capacity = 1024) {
  change_log::options o;
  o.capacity = capacity;
  o.lane_capacity = lane_capacity;
  o.first_revision = 100;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(change_log_unit)

BOOST_AUTO_TEST_CASE(changes_get_consecutive_revisions_after_the_first_one) {
  change_log log{small(16), by_serial()};
  BOOST_TEST(log.revision() == 100u);
  for (std::uint64_t i = 1; i <= 5; ++i)
    log.record(load_change(i));
  auto b = log.changes_since(100, 100);
  BOOST_TEST(!b.compacted);
  BOOST_TEST(b.revision == 105u);
  BOOST_REQUIRE_EQUAL(b.changes.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    BOOST_TEST(b.changes[i].revision == 101 + i);
    BOOST_TEST(b.changes[i].agent_id == "agent-" + std::to_string(i + 1));
  }
  // From the middle, and bounded by max.
  auto mid = log.changes_since(102, 2);
  BOOST_REQUIRE_EQUAL(mid.changes.size(), 2u);
  BOOST_TEST(mid.changes[0].revision == 103u);
  BOOST_TEST(mid.changes[1].revision == 104u);
  // Up to date: nothing, not compacted.
  auto none = log.changes_since(105, 100);
  BOOST_TEST(!none.compacted);
  BOOST_TEST(none.changes.empty());
}

BOOST_AUTO_TEST_CASE(a_revision_older_than_the_ring_answers_compacted_with_the_current_revision) {
  change_log log{small(4), by_serial()};
  for (std::uint64_t i = 1; i <= 10; ++i)
    log.record(load_change(i));
  auto old = log.changes_since(100, 100);
  BOOST_TEST(old.compacted);
  BOOST_TEST(old.changes.empty());
  BOOST_TEST(old.revision == 110u);
  BOOST_TEST(old.compacted_revision == 106u);  // the ring keeps 107..110
  auto kept = log.changes_since(106, 100);
  BOOST_TEST(!kept.compacted);
  BOOST_REQUIRE_EQUAL(kept.changes.size(), 4u);
  BOOST_TEST(kept.changes.front().revision == 107u);
  BOOST_TEST(log.changes_since(105, 100).compacted);
}

BOOST_AUTO_TEST_CASE(a_revision_ahead_of_the_log_answers_compacted) {
  // As after a restart: the client's revision belongs to another run.
  change_log log{small(4), by_serial()};
  log.record(load_change(1));
  auto b = log.changes_since(5000, 10);
  BOOST_TEST(b.compacted);
  BOOST_TEST(b.revision == 101u);
}

BOOST_AUTO_TEST_CASE(a_change_that_finds_its_lane_full_compacts_everything_before_a_gap) {
  // Lane of 8, and nobody publishes until we ask: the 9th change is dropped.
  change_log::options o = small(64, 8);
  o.publish_interval = std::chrono::hours{1};
  change_log log{o, by_serial()};
  const auto before = log.revision();
  // The publisher thread may take some changes early; with 64 recorded at
  // once at most one round of it fits in between, and a lane of 8 overflows.
  for (std::uint64_t i = 1; i <= 64; ++i)
    log.record(load_change(i));
  auto b = log.changes_since(before, 1000);
  BOOST_TEST(b.compacted);
  BOOST_TEST(log.dropped() > 0u);
  // The gap's revision is the new floor: from it, the changes published after.
  auto after = log.changes_since(b.compacted_revision, 1000);
  BOOST_TEST(!after.compacted);
  BOOST_TEST(after.revision == b.revision);
}

BOOST_AUTO_TEST_CASE(the_ring_keeps_the_newest_changes_in_order_across_wraps_and_gaps) {
  // A ring of 5 slots, reused: wrapped several times, emptied by a gap
  // while wrapped, then filled again.
  change_log::options o = small(5, 8);
  o.publish_interval = std::chrono::hours{1};
  change_log log{o, by_serial()};
  std::uint64_t serial = 0;
  // What a watcher resuming from the oldest revision kept reads: every
  // revision from there to the last, consecutive, each change the one
  // recorded with the next serial (serials only grow).
  auto check = [&](std::size_t expected) {
    const auto last = log.revision();
    const auto b = log.changes_since(log.compacted_revision(), 100);
    BOOST_TEST_REQUIRE(!b.compacted);
    BOOST_TEST_REQUIRE(b.changes.size() == expected);
    BOOST_TEST(b.revision == last);
    for (std::size_t i = 0; i < b.changes.size(); ++i) {
      BOOST_TEST(b.changes[i].revision == last - expected + 1 + i);
      BOOST_TEST(b.changes[i].agent_id == "agent-" + std::to_string(serial - expected + 1 + i));
    }
  };
  for (int round = 0; round < 4; ++round) {  // 7 a round: wraps from the second on
    for (int i = 0; i < 7; ++i)
      log.record(load_change(++serial));
    check(5);
  }
  // 20 at once overflow the lane of 8: a gap empties the ring (while wrapped).
  for (int i = 0; i < 20; ++i)
    log.record(load_change(++serial));
  const auto gap = log.changes_since(0, 100);
  BOOST_TEST(gap.compacted);
  const auto after_gap = log.changes_since(log.compacted_revision(), 100);
  BOOST_TEST(after_gap.changes.size() <= 5u);
  // Then filled again from empty, and wrapped again.
  for (std::size_t n = 1; n <= 12; ++n) {
    log.record(load_change(++serial));
    if (n >= 8)  // the ring now holds only changes recorded after the gap
      check(5);
  }
}

BOOST_AUTO_TEST_CASE(a_threads_second_change_of_an_agent_by_handle_coalesces_until_the_next_round) {
  change_log::options o = small(64);
  o.publish_interval = std::chrono::hours{1};
  change_log log{o, by_serial()};
  // The publisher thread takes its first round at the first change, then
  // sleeps for the interval: no round begins behind the test's back.
  const auto start = log.published_revision();
  log.record(load_change(1));
  while (log.published_revision() == start)
    std::this_thread::yield();
  auto lease_change = [](std::uint32_t pool, std::uint32_t slot, std::uint32_t generation) {
    pending_change p;
    p.kind = change_kind::lease_granted;
    p.by_handle = true;
    p.pool = pool;
    p.slot = slot;
    p.generation = generation;
    return p;
  };
  BOOST_TEST(!log.coalesces(1, 2, 3));  // nothing of it recorded yet
  log.record(lease_change(1, 2, 3));
  BOOST_TEST(log.coalesces(1, 2, 3));
  BOOST_TEST(!log.coalesces(1, 2, 4));   // the slot's next agent
  BOOST_TEST(!log.coalesces(1, 66, 3));  // another agent in the same mark
  BOOST_TEST(!log.coalesces(2, 2, 3));
  bool other_thread = true;
  std::thread{[&] { other_thread = log.coalesces(1, 2, 3); }}.join();
  BOOST_TEST(!other_thread);  // its own lane recorded nothing
  // A reader publishes: a new round, and the next change is recorded again.
  const auto before = log.published_revision();
  BOOST_TEST(log.revision() == before + 1);
  BOOST_TEST(!log.coalesces(1, 2, 3));
  log.record(lease_change(1, 2, 3));
  BOOST_TEST(log.coalesces(1, 2, 3));
  BOOST_TEST(log.revision() == before + 2);
}

BOOST_AUTO_TEST_CASE(a_change_recorded_while_a_round_is_under_way_is_not_coalesced_into_one_it_took) {
  // A thread records a lease change of agent X while a round is publishing
  // (after the round began, before it reads that thread's lane), so the
  // round takes and resolves it; the thread's next change of X comes after
  // that resolution and must be recorded, or no change would ever carry it.
  // The round is a reader's publish on this thread; the resolver of its
  // first change (from this thread's lane, the first lane) makes the other
  // thread record X, and waits until it has.
  std::mutex m;
  std::condition_variable cv;
  std::function<void()> job;  // for the other thread, under m
  bool done = false;
  auto run_there = [&](std::function<void()> f) {  // runs f on the other thread and waits
    std::unique_lock lock{m};
    job = std::move(f);
    done = false;
    cv.notify_all();
    cv.wait(lock, [&] { return done; });
  };
  bool stop = false;
  std::atomic<bool> in_round{false};
  std::atomic<int> resolved_x{0};
  change_log* log_ptr = nullptr;
  auto lease_of_x = [] {
    pending_change p;
    p.kind = change_kind::lease_granted;
    p.by_handle = true;
    p.pool = 1;
    p.slot = 2;
    p.generation = 3;
    return p;
  };
  std::thread other{[&] {
    std::unique_lock lock{m};
    while (true) {
      cv.wait(lock, [&] { return stop || job; });
      if (stop)
        return;
      auto f = std::move(job);
      job = nullptr;
      lock.unlock();
      f();
      lock.lock();
      done = true;
      cv.notify_all();
    }
  }};
  {
    change_log::options o = small(64);
    o.publish_interval = std::chrono::hours{1};
    change_log log{o, [&](const pending_change& in, change& out) {
                     if (in.by_handle) {
                       ++resolved_x;
                     } else if (in.serial == 1 && !in_round.exchange(true)) {
                       // Inside the round, before the other lane is read.
                       run_there([&] {
                         BOOST_CHECK(!log_ptr->coalesces(1, 2, 3));
                         log_ptr->record(lease_of_x());
                       });
                     }
                     out.agent_id = "agent";
                     return true;
                   }};
    log_ptr = &log;
    // Both lanes exist (this thread's first) and the publisher thread has
    // taken its first round and sleeps for the interval.
    const auto start = log.published_revision();
    log.record(load_change(7));
    while (log.published_revision() == start)
      std::this_thread::yield();
    run_there([&] { log.record(load_change(8)); });
    log.record(load_change(1));
    (void)log.revision();  // the round: X is recorded during it and taken by it
    BOOST_TEST(in_round.load());
    BOOST_TEST(resolved_x.load() == 1);
    bool coalesced = true;
    run_there([&] { coalesced = log.coalesces(1, 2, 3); });
    BOOST_TEST(!coalesced);  // the round that took X resolved it before this change
    run_there([&] {
      if (!log.coalesces(1, 2, 3))
        log.record(lease_of_x());
    });
    (void)log.revision();
    BOOST_TEST(resolved_x.load() == 2);
  }
  {
    std::lock_guard guard{m};
    stop = true;
  }
  cv.notify_all();
  other.join();
}

BOOST_AUTO_TEST_CASE(a_change_the_resolver_refuses_takes_no_revision) {
  change_log log{small(16), [](const pending_change& in, change&) { return in.serial % 2 == 0; }};
  for (std::uint64_t i = 1; i <= 6; ++i)
    log.record(load_change(i));
  auto b = log.changes_since(100, 100);
  BOOST_REQUIRE_EQUAL(b.changes.size(), 3u);
  BOOST_TEST(b.revision == 103u);
}

BOOST_AUTO_TEST_CASE(subscribers_are_told_new_revisions_without_anyone_asking) {
  change_log log{small(16), by_serial()};
  std::mutex m;
  std::condition_variable cv;
  std::uint64_t seen = 0;
  auto sub = log.subscribe([&](std::uint64_t rev) {
    std::lock_guard g{m};
    seen = rev;
    cv.notify_all();
  });
  log.record(load_change(7));  // no reader: the publisher thread alone must tell
  std::unique_lock lock{m};
  BOOST_TEST(cv.wait_for(lock, std::chrono::seconds{30}, [&] { return seen == 101; }));
  lock.unlock();
  sub.reset();
  log.record(load_change(8));
  BOOST_TEST(log.revision() == 102u);
  std::lock_guard g{m};
  BOOST_TEST(seen == 101u);  // unsubscribed: not told 102
}

BOOST_AUTO_TEST_CASE(threads_that_exit_leave_their_changes_published) {
  change_log log{small(1000), by_serial()};
  for (int t = 0; t < 8; ++t)
    std::thread{[&log, t] {
      for (int i = 0; i < 10; ++i)
        log.record(load_change(static_cast<std::uint64_t>(t * 100 + i)));
    }}.join();
  auto b = log.changes_since(100, 1000);
  BOOST_TEST(b.changes.size() == 80u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(change_log_stress)

BOOST_AUTO_TEST_CASE(concurrent_writers_and_readers_see_every_change_once_in_revision_order) {
  constexpr int writers = 4;
  constexpr int per_writer = 50'000;
  // Lanes hold everything a writer makes, so nothing may be dropped.
  change_log log{small(writers * per_writer, per_writer), by_serial()};
  const auto start = log.revision();
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      for (int i = 0; i < per_writer; ++i)
        log.record(load_change(static_cast<std::uint64_t>(w) * 1'000'000 + static_cast<std::uint64_t>(i)));
      done.fetch_add(1);
    });
  // Two readers follow the stream while it is written.
  std::vector<std::set<std::uint64_t>> serials(2);
  std::vector<bool> ordered(2, true);
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r)
    readers.emplace_back([&, r] {
      auto rev = start;
      std::vector<int> last(writers, -1);
      while (true) {
        const bool finished = done.load() == writers;
        auto b = log.changes_since(rev, 1000);
        if (b.compacted) {
          ordered[r] = false;
          return;
        }
        for (const auto& c : b.changes) {
          if (c.revision != rev + 1)
            ordered[r] = false;
          rev = c.revision;
          const auto serial = std::stoull(c.agent_id.substr(6));
          const int w = static_cast<int>(serial / 1'000'000), i = static_cast<int>(serial % 1'000'000);
          if (i <= last[w])  // one writer's changes keep their order
            ordered[r] = false;
          last[w] = i;
          serials[r].insert(serial);
        }
        if (finished && b.changes.empty() && rev == log.revision())
          return;
      }
    });
  for (auto& t : threads)
    t.join();
  for (auto& t : readers)
    t.join();
  BOOST_TEST(log.dropped() == 0u);
  BOOST_TEST(log.revision() == start + writers * per_writer);
  for (int r = 0; r < 2; ++r) {
    BOOST_TEST(ordered[r]);
    BOOST_TEST(serials[r].size() == static_cast<std::size_t>(writers * per_writer));
  }
}

BOOST_AUTO_TEST_SUITE_END()
