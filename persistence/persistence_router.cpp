#include "persistence/persistence_router.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <iostream>
#include <optional>
#include <string_view>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace agentreg::db {

namespace {

// A performance or tool usage snapshot held until the writers committed
// everything sent before it (see release_held).
struct held_snapshot {
  std::uint64_t seq;
  msg::snapshots counts;
};

struct router_state {
  std::vector<msg::persistence_writer_actor> writers;
  // Per writer: gate room of the records sent to it and not yet committed
  // (added here on send, subtracted by the writer on commit).
  std::vector<std::shared_ptr<std::atomic<std::int64_t>>> rooms;
  // Every writer ever spawned, shared with the functor that stops them when
  // the router stops (it runs after the state is gone).
  std::shared_ptr<std::vector<msg::persistence_writer_actor>> spawned =
      std::make_shared<std::vector<msg::persistence_writer_actor>>();
  writer_config cfg;
  std::shared_ptr<core::backlog_gate> gate;
  std::deque<held_snapshot> held;  // in order; a release is in flight while not empty
  std::uint64_t next_seq = 0;
  // A release answers only if no writer was replaced since it started: a
  // sync sent to a writer that died is never answered (CAF 0.17 has no
  // broken-promise error), so the replacement starts a new release.
  std::uint64_t generation = 0;
  // Records held by writers that died (their gate room, given back).
  std::int64_t lost = 0;
  std::int64_t writer_restarts = 0;
  static inline const char* name = "agentreg.persistence_router";

  std::size_t writer_of(std::string_view id) const { return std::hash<std::string_view>{}(id) % writers.size(); }
};

using router_pointer = msg::persistence_actor::stateful_pointer<router_state>;

// Splits a batch by writer; answers one batch per writer (some empty).
std::vector<msg::record_batch> split(const router_state& st, msg::record_batch& b) {
  std::vector<msg::record_batch> out(st.writers.size());
  for (auto& part : out)
    part.drain = b.drain;
  for (auto& e : b.started)
    out[st.writer_of(e.id)].started.push_back(std::move(e));
  for (auto& e : b.completed)
    out[st.writer_of(e.id)].completed.push_back(std::move(e));
  for (auto& t : b.tool_calls)
    out[st.writer_of(t.id)].tool_calls.push_back(std::move(t));
  return out;
}

void release_held(router_pointer self);

// Asks writers [first, end) `x...` and calls done(answers) with their
// answers in writer order once all are in (at once when there are none); a
// writer that fails to answer within cfg.request_timeout gives nullopt.
template <class T, class Done, class... Ts>
void ask_writers(router_pointer self, std::size_t first, Done done, Ts... xs) {
  const auto& writers = self->state.writers;
  const auto n = writers.size() > first ? writers.size() - first : 0;
  auto answers = std::make_shared<std::vector<std::optional<T>>>(n);
  if (n == 0) {
    done(*answers);
    return;
  }
  auto waiting = std::make_shared<std::size_t>(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto on_answer = [answers, waiting, done, i](std::optional<T> answer) mutable {
      (*answers)[i] = std::move(answer);
      if (--*waiting == 0)
        done(*answers);
    };
    self->request(writers[first + i], self->state.cfg.request_timeout, xs...)
        .then([on_answer](T& answer) mutable { on_answer(std::move(answer)); },
              [on_answer](caf::error&) mutable { on_answer(std::nullopt); });
  }
}

bool all_true(const std::vector<std::optional<bool>>& answers) {
  return std::all_of(answers.begin(), answers.end(), [](const auto& a) { return a && *a; });
}

// Sends the held snapshots numbered below `upto` to the first writer.
void send_held(router_pointer self, std::uint64_t upto) {
  auto& st = self->state;
  while (!st.held.empty() && st.held.front().seq < upto) {
    self->send(st.writers.front(), msg::snapshot_atom::value, std::move(st.held.front().counts));
    st.held.pop_front();
  }
}

// Waits until writers [1, n) have committed up to `points` (one per writer,
// from a mark), then sends the snapshots held below `upto` to the first
// writer and starts the next release. A wait that times out (an outage: the
// writer cannot commit yet) is asked again for the same points.
void await_points(router_pointer self, std::vector<std::uint64_t> points, std::uint64_t upto,
                  std::uint64_t generation) {
  auto& st = self->state;
  auto answers = std::make_shared<std::vector<bool>>(points.size(), false);
  auto waiting = std::make_shared<std::size_t>(points.size());
  auto on_answer = [self, points, upto, generation, answers, waiting](std::size_t i, bool ok) {
    (*answers)[i] = ok;
    if (--*waiting > 0)
      return;
    if (generation != self->state.generation)
      return;  // a writer was replaced meanwhile; its down handler released again
    if (!std::all_of(answers->begin(), answers->end(), [](bool b) { return b; })) {
      await_points(self, points, upto, generation);
      return;
    }
    send_held(self, upto);
    release_held(self);
  };
  for (std::size_t i = 0; i < points.size(); ++i)
    self->request(st.writers[i + 1], st.cfg.request_timeout, msg::sync_atom::value, points[i])
        .then([on_answer, i](bool ok) { on_answer(i, ok); }, [on_answer, i](caf::error&) { on_answer(i, false); });
}

// Sends the snapshots held now to the first writer once every other writer
// has committed everything it was sent before them: a mark of each (how
// much it received), then a sync for that mark, which forces nothing (it is
// answered as the writer commits anyway). A summary then never reaches the
// database before the completions it counts, which may have gone to
// another writer; the first writer needs no sync, as it writes what it
// receives in order. Snapshots held meanwhile get the next release. A
// writer that died is replaced, and its down handler starts a new release
// (what it held is lost anyway).
void release_held(router_pointer self) {
  auto& st = self->state;
  if (st.held.empty())
    return;
  const std::uint64_t upto = st.next_seq;
  const std::uint64_t generation = st.generation;
  if (st.writers.size() == 1) {
    send_held(self, upto);
    return;
  }
  ask_writers<std::uint64_t>(
      self, 1,
      [self, upto, generation](const std::vector<std::optional<std::uint64_t>>& marks) {
        if (generation != self->state.generation)
          return;
        if (!std::all_of(marks.begin(), marks.end(), [](const auto& m) { return m.has_value(); })) {
          release_held(self);  // a writer busy past the timeout: ask again
          return;
        }
        std::vector<std::uint64_t> points;
        for (const auto& m : marks)
          points.push_back(*m);
        await_points(self, std::move(points), upto, generation);
      },
      msg::mark_atom::value);
}

// Sends `b` to writer `i`, counting the gate room its records hold there.
void send_to(router_pointer self, std::size_t i, msg::record_batch b) {
  self->state.rooms[i]->fetch_add(static_cast<std::int64_t>(b.started.size() + b.completed.size() + b.tool_calls.size()),
                                  std::memory_order_relaxed);  // relaxed: a count, see router_state::rooms
  self->send(self->state.writers[i], msg::batch_atom::value, std::move(b));
}

// Spawns writer `i` (a new one, or the replacement of one that died).
void spawn_writer(router_pointer self, std::size_t i) {
  auto& st = self->state;
  auto room = std::make_shared<std::atomic<std::int64_t>>(0);
  auto w = spawn_persistence_writer(self->system(), st.cfg, st.gate, room);
  self->monitor(w);
  st.spawned->push_back(w);
  if (i == st.writers.size()) {
    st.writers.push_back(std::move(w));
    st.rooms.push_back(std::move(room));
  } else {
    st.writers[i] = std::move(w);
    st.rooms[i] = std::move(room);
  }
}

msg::persistence_actor::behavior_type router_behavior(router_pointer self, writer_config cfg,
                                                      std::size_t connections,
                                                      std::shared_ptr<core::backlog_gate> gate) {
  self->state.cfg = std::move(cfg);
  self->state.gate = std::move(gate);
  for (std::size_t i = 0; i < std::max<std::size_t>(connections, 1); ++i)
    spawn_writer(self, i);
  // A writer that dies (it never should: every database failure is a value
  // it retries) is replaced, so that persistence goes on. What it held is
  // lost, and said so; its gate room is given back, so that callers are not
  // blocked or refused for records that will never be written.
  self->set_down_handler([self](caf::down_msg& down) {
    auto& st = self->state;
    for (std::size_t i = 0; i < st.writers.size(); ++i) {
      if (st.writers[i].address() != down.source)
        continue;
      const auto lost = st.rooms[i]->load(std::memory_order_relaxed);
      std::clog << "agentreg: a persistence writer stopped (" << to_string(down.reason) << "); " << lost
                << " records it held are lost; starting a new one\n";
      if (lost > 0) {
        st.gate->release(lost);
        st.lost += lost;
      }
      spawn_writer(self, i);
      ++st.writer_restarts;
      ++st.generation;
      release_held(self);
    }
  });
  self->attach_functor([spawned = self->state.spawned] {
    for (const auto& w : *spawned)
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  });
  return {
      [=](msg::batch_atom, msg::record_batch& b) {
        auto& st = self->state;
        if (st.writers.size() == 1) {
          send_to(self, 0, std::move(b));
          return;
        }
        auto parts = split(st, b);
        for (std::size_t i = 0; i < parts.size(); ++i)
          if (!parts[i].empty())
            send_to(self, i, std::move(parts[i]));
      },
      [=](msg::snapshot_atom, msg::snapshots& s) {
        auto& st = self->state;
        // Agents are absolute values that count no record: straight to the
        // first writer, in order. Summaries and tool usage count records:
        // held until the other writers committed what came before them.
        if (!s.agents.empty()) {
          msg::snapshots agents;
          agents.agents = std::move(s.agents);
          self->send(st.writers.front(), msg::snapshot_atom::value, std::move(agents));
        }
        if (s.performance.empty() && s.tool_usage.empty())
          return;
        st.held.push_back({st.next_seq++, std::move(s)});
        // With one writer it goes at once (that writer's order suffices);
        // with more, a release starts unless one is in flight, which starts
        // the next one when it is done.
        if (st.held.size() == 1)
          release_held(self);
      },
      [=](msg::flush_atom) -> caf::result<bool> {
        // Writes now (shutdown, tests): the other writers first, then what is
        // held, then the first writer. False if a writer could not write:
        // then nothing held is sent yet, and the caller tries again later.
        auto rp = self->make_response_promise<bool>();
        const std::uint64_t upto = self->state.next_seq;
        ask_writers<bool>(
            self, 1,
            [self, rp, upto](const std::vector<std::optional<bool>>& others) mutable {
              if (!all_true(others)) {
                rp.deliver(false);
                return;
              }
              send_held(self, upto);
              ask_writers<bool>(
                  self, 0, [rp](const std::vector<std::optional<bool>>& all) mutable { rp.deliver(all_true(all)); },
                  msg::flush_atom::value);
            },
            msg::flush_atom::value);
        return rp;
      },
      [=](msg::stats_atom) -> caf::result<msg::persistence_stats> {
        auto rp = self->make_response_promise<msg::persistence_stats>();
        ask_writers<msg::persistence_stats>(
            self, 0,
            [rp, lost = self->state.lost, restarts = self->state.writer_restarts](
                const std::vector<std::optional<msg::persistence_stats>>& answers) mutable {
              msg::persistence_stats all;
              all.lost = lost;
              all.writer_restarts = restarts;
              all.connected = true;
              for (const auto& a : answers) {
                if (!a) {
                  all.connected = false;
                  all.last_error = "a persistence writer did not answer";
                  continue;
                }
                all.buffered += a->buffered;
                all.batches += a->batches;
                all.rows += a->rows;
                all.retries += a->retries;
                all.dead_letters += a->dead_letters;
                all.lost += a->lost;
                all.connected = all.connected && a->connected;
                if (!a->last_error.empty())
                  all.last_error = a->last_error;
              }
              rp.deliver(std::move(all));
            },
            msg::stats_atom::value);
        return rp;
      },
  };
}

}  // namespace

msg::persistence_actor spawn_persistence(caf::actor_system& system, writer_config cfg, std::size_t connections,
                                         std::shared_ptr<core::backlog_gate> gate) {
  return system.spawn(router_behavior, std::move(cfg), connections, std::move(gate));
}

}  // namespace agentreg::db
