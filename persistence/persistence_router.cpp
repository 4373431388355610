#include "persistence/persistence_router.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace agentreg::db {

namespace {

// The newest row of each key of a kind of snapshot, not yet committed.
// Rows are absolute values: a newer row of a key replaces an older one, so
// however long an outage lasts, each key is held at most once here.
struct snapshot_rows {
  std::map<std::string, core::agent_snapshot> agents;
  std::map<std::pair<std::string, std::string>, core::tool_usage_snapshot> tool_usage;
  std::map<std::pair<core::group_by, std::string>, core::performance_snapshot> performance;
  // With tool usage and summaries: the drain they count through (a row of
  // a key that did not change since an older snapshot is still right then).
  std::uint64_t drain = 0;

  [[nodiscard]] std::size_t size() const { return agents.size() + tool_usage.size() + performance.size(); }
  [[nodiscard]] bool empty() const { return size() == 0; }

  // Adds rows newer than those here (a snapshot that arrived later).
  void add_newer(std::vector<core::agent_snapshot>& a, std::vector<core::tool_usage_snapshot>& t,
                 std::vector<core::performance_snapshot>& p, std::uint64_t d) {
    for (auto& r : a) {
      auto id = r.agent.agent_id;
      agents.insert_or_assign(std::move(id), std::move(r));
    }
    for (auto& r : t) {
      std::pair<std::string, std::string> key{r.usage.agent_id, r.usage.tool_name};
      tool_usage.insert_or_assign(std::move(key), std::move(r));
    }
    for (auto& r : p) {
      std::pair<core::group_by, std::string> key{r.summary.dimension, r.summary.key};
      performance.insert_or_assign(std::move(key), std::move(r));
    }
    drain = std::max(drain, d);
  }
  void add_newer(snapshot_rows&& newer) {
    for (auto& [k, r] : newer.agents)
      agents.insert_or_assign(k, std::move(r));
    for (auto& [k, r] : newer.tool_usage)
      tool_usage.insert_or_assign(k, std::move(r));
    for (auto& [k, r] : newer.performance)
      performance.insert_or_assign(k, std::move(r));
    drain = std::max(drain, newer.drain);
  }
  // Adds rows older than those here (sent before them): only keys not here.
  void add_older(snapshot_rows&& older) {
    agents.merge(older.agents);
    tool_usage.merge(older.tool_usage);
    performance.merge(older.performance);
    drain = std::max(drain, older.drain);
  }

  // A copy as a message (this one is kept until it is committed).
  [[nodiscard]] msg::snapshots message() const {
    msg::snapshots s;
    for (const auto& [k, r] : agents)
      s.agents.push_back(r);
    for (const auto& [k, r] : tool_usage)
      s.tool_usage.push_back(r);
    for (const auto& [k, r] : performance)
      s.performance.push_back(r);
    s.drain = drain;
    return s;
  }
};

// Snapshots on their way to the first writer, one release at a time: the
// rows that arrived meanwhile wait, merged, in `pending` (at most one row
// per key), and `out` (the release) is kept until the first writer
// committed it, to be sent again if a writer dies first.
struct snapshot_pipeline {
  // Summaries and tool usage count records, which may have gone to other
  // writers: a release waits until those have committed everything sent
  // before it. Agent rows count none and go at once.
  bool hold = false;
  snapshot_rows pending, out;
  enum class stage : std::uint8_t { idle, holding, writing } at = stage::idle;
  // Numbers the releases: an answer for an older one (replaced, or sent
  // ahead by a flush) is ignored.
  std::uint64_t release = 0;
};

struct router_state {
  std::vector<msg::persistence_writer_actor> writers;
  // Per writer: gate room of the records sent to it and not yet committed
  // (added here on send, subtracted by the writer on commit).
  std::vector<std::shared_ptr<std::atomic<std::int64_t>>> rooms;
  // Per writer: records (rows of snapshots included) sent to it since it
  // was spawned, as the writer counts what it received: a point to wait
  // for with sync_atom.
  std::vector<std::uint64_t> sent;
  // Every writer ever spawned, shared with the functor that stops them when
  // the router stops (it runs after the state is gone).
  std::shared_ptr<std::vector<msg::persistence_writer_actor>> spawned =
      std::make_shared<std::vector<msg::persistence_writer_actor>>();
  writer_config cfg;
  std::shared_ptr<core::backlog_gate> gate;
  // [agents] and [counts]: summaries and tool usage.
  static constexpr std::size_t agents = 0, counts = 1;
  std::array<snapshot_pipeline, 2> pipelines{snapshot_pipeline{false}, snapshot_pipeline{true}};
  // The rows a flush took (the pending ones when it began) until the other
  // writers answered it; rows that arrive meanwhile may count records those
  // writers received after the flush, so they wait. One flush at a time.
  std::optional<std::array<snapshot_rows, 2>> flushing;
  // Records held by writers that died (their gate room, given back).
  std::int64_t lost = 0;
  std::int64_t writer_restarts = 0;
  // Per writer: the counters it publishes, read without asking it (a writer
  // blocked in a statement answers nothing until the statement ends).
  std::vector<std::shared_ptr<published_stats>> published;
  // The counters of writers that died, so that batches, rows, retries, dead
  // letters and lost records never go down between two calls of stats()
  // (they are Prometheus counters).
  msg::persistence_stats retired;
  static inline const char* name = "agentreg.persistence_router";

  std::size_t writer_of(std::string_view id) const { return std::hash<std::string_view>{}(id) % writers.size(); }

  // Rows of snapshots the router holds (pending and out, every kind).
  [[nodiscard]] std::int64_t snapshot_rows_held() const {
    std::size_t n = 0;
    for (const auto& p : pipelines)
      n += p.pending.size() + p.out.size();
    if (flushing)
      for (const auto& rows : *flushing)
        n += rows.size();
    return static_cast<std::int64_t>(n);
  }
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

void start_release(router_pointer self, std::size_t p);

// Waits until the first writer committed everything up to `point` (which
// includes release `id` of pipeline `p`), then starts the next release. A
// wait that times out (an outage) is asked again.
void await_first(router_pointer self, std::size_t p, std::uint64_t id, std::uint64_t point) {
  self->request(self->state.writers.front(), self->state.cfg.request_timeout, msg::sync_atom::value, point)
      .then(
          [self, p, id](bool) {
            auto& pl = self->state.pipelines[p];
            if (pl.release != id)
              return;
            pl.out = {};
            pl.at = snapshot_pipeline::stage::idle;
            start_release(self, p);
          },
          [self, p, id, point](caf::error&) {
            if (self->state.pipelines[p].release == id)
              await_first(self, p, id, point);
          });
}

// Sends the release of pipeline `p` (its `out`) to the first writer.
void write_out(router_pointer self, std::size_t p) {
  auto& st = self->state;
  auto& pl = st.pipelines[p];
  pl.at = snapshot_pipeline::stage::writing;
  auto m = pl.out.message();
  st.sent.front() += m.agents.size() + m.tool_usage.size() + m.performance.size();
  self->send(st.writers.front(), msg::snapshot_atom::value, std::move(m));
  await_first(self, p, pl.release, st.sent.front());
}

// Waits until writers [1, n) committed up to `points` (what the router had
// sent them when release `id` began), then sends the release. A summary
// then never reaches the database before the completions it counts, which
// may have gone to another writer; the first writer needs no wait, as it
// writes what it receives in order. A wait that times out (an outage: the
// writer cannot commit yet) is asked again for the same points.
void await_others(router_pointer self, std::size_t p, std::uint64_t id, std::vector<std::uint64_t> points) {
  auto& st = self->state;
  auto answers = std::make_shared<std::vector<bool>>(points.size(), false);
  auto waiting = std::make_shared<std::size_t>(points.size());
  auto on_answer = [self, p, id, points, answers, waiting](std::size_t i, bool ok) {
    (*answers)[i] = ok;
    if (--*waiting > 0 || self->state.pipelines[p].release != id)
      return;
    if (std::all_of(answers->begin(), answers->end(), [](bool b) { return b; }))
      write_out(self, p);
    else
      await_others(self, p, id, points);
  };
  for (std::size_t i = 0; i < points.size(); ++i)
    self->request(st.writers[i + 1], st.cfg.request_timeout, msg::sync_atom::value, points[i])
        .then([on_answer, i](bool ok) { on_answer(i, ok); }, [on_answer, i](caf::error&) { on_answer(i, false); });
}

// Starts a release of pipeline `p` unless one is in flight (which starts
// the next one when it is done) or nothing is pending.
void start_release(router_pointer self, std::size_t p) {
  auto& st = self->state;
  auto& pl = st.pipelines[p];
  // A flush sends its rows first (they are older than the pending ones).
  if (pl.at != snapshot_pipeline::stage::idle || pl.pending.empty() || st.flushing)
    return;
  pl.out = std::exchange(pl.pending, {});
  const auto id = ++pl.release;
  if (!pl.hold || st.writers.size() == 1) {
    write_out(self, p);
    return;
  }
  pl.at = snapshot_pipeline::stage::holding;
  await_others(self, p, id, std::vector<std::uint64_t>(st.sent.begin() + 1, st.sent.end()));
}

// Sends `rows` of pipeline `p` (newer than its release, older than its
// pending rows) to the first writer now, with the release if it is still
// held: a flush, once the other writers committed all they were sent
// before the rows were taken.
void send_now(router_pointer self, std::size_t p, snapshot_rows rows) {
  auto& st = self->state;
  auto& pl = st.pipelines[p];
  if (pl.at == snapshot_pipeline::stage::holding) {
    rows.add_older(std::exchange(pl.out, {}));
    pl.at = snapshot_pipeline::stage::idle;
  }
  if (rows.empty())
    return;
  auto m = rows.message();
  st.sent.front() += m.agents.size() + m.tool_usage.size() + m.performance.size();
  self->send(st.writers.front(), msg::snapshot_atom::value, std::move(m));
  if (pl.at == snapshot_pipeline::stage::writing)
    pl.out.add_newer(std::move(rows));
  else
    pl.out = std::move(rows);
  pl.at = snapshot_pipeline::stage::writing;
  await_first(self, p, ++pl.release, st.sent.front());
}

// Puts rows a flush took back under the pending ones (which are newer).
void put_back(router_pointer self, std::array<snapshot_rows, 2>& taken) {
  for (std::size_t p = 0; p < taken.size(); ++p)
    self->state.pipelines[p].pending.add_older(std::move(taken[p]));
}

// Sends `b` to writer `i`, counting the gate room its records hold there.
void send_to(router_pointer self, std::size_t i, msg::record_batch b) {
  const auto n = b.started.size() + b.completed.size() + b.tool_calls.size();
  self->state.rooms[i]->fetch_add(static_cast<std::int64_t>(n),
                                  std::memory_order_relaxed);  // relaxed: a count, see router_state::rooms
  self->state.sent[i] += n;
  self->send(self->state.writers[i], msg::batch_atom::value, std::move(b));
}

// Spawns writer `i` (a new one, or the replacement of one that died).
void spawn_writer(router_pointer self, std::size_t i) {
  auto& st = self->state;
  auto room = std::make_shared<std::atomic<std::int64_t>>(0);
  auto published = std::make_shared<published_stats>();
  auto w = spawn_persistence_writer(self->system(), st.cfg, st.gate, room, published);
  self->monitor(w);
  st.spawned->push_back(w);
  if (i == st.writers.size()) {
    st.writers.push_back(std::move(w));
    st.rooms.push_back(std::move(room));
    st.sent.push_back(0);
    st.published.push_back(std::move(published));
  } else {
    st.writers[i] = std::move(w);
    st.rooms[i] = std::move(room);
    st.sent[i] = 0;
    st.published[i] = std::move(published);
  }
}

// The fault_injection::late_stats answer: `s`, delivered `after` from now
// by a timer actor of its own, so the router goes on meanwhile.
caf::typed_response_promise<msg::persistence_stats> answer_late(router_pointer self, msg::persistence_stats s,
                                                                std::chrono::milliseconds after) {
  auto rp = self->make_response_promise<msg::persistence_stats>();
  self->spawn([rp, s = std::move(s), after](caf::event_based_actor* timer) mutable -> caf::behavior {
    timer->delayed_send(timer, after, caf::ok_atom::value);
    return {[=](caf::ok_atom) mutable {
      rp.deliver(s);
      timer->quit();
    }};
  });
  return rp;
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
      const auto old = st.published[i]->read();  // all it ever published: it is gone
      st.retired.batches += old.batches;
      st.retired.rows += old.rows;
      st.retired.retries += old.retries;
      st.retired.dead_letters += old.dead_letters;
      st.retired.lost += old.lost;
      spawn_writer(self, i);
      ++st.writer_restarts;
      // A release in flight waited for (or was sent to) the writer that
      // died: its rows go back under the pending ones, newer, and are sent
      // again; so do the rows of a flush in flight (which then fails).
      if (st.flushing) {
        put_back(self, *st.flushing);
        st.flushing.reset();
      }
      for (std::size_t p = 0; p < st.pipelines.size(); ++p) {
        auto& pl = st.pipelines[p];
        if (pl.at != snapshot_pipeline::stage::idle) {
          pl.pending.add_older(std::exchange(pl.out, {}));
          pl.at = snapshot_pipeline::stage::idle;
          ++pl.release;
        }
        start_release(self, p);
      }
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
        // Agents count no record; summaries and tool usage wait for the
        // records they count (see snapshot_pipeline::hold).
        std::vector<core::tool_usage_snapshot> no_tools;
        std::vector<core::performance_snapshot> no_summaries;
        std::vector<core::agent_snapshot> no_agents;
        if (!s.agents.empty()) {
          st.pipelines[router_state::agents].pending.add_newer(s.agents, no_tools, no_summaries, 0);
          start_release(self, router_state::agents);
        }
        if (!s.tool_usage.empty() || !s.performance.empty()) {
          st.pipelines[router_state::counts].pending.add_newer(no_agents, s.tool_usage, s.performance, s.drain);
          start_release(self, router_state::counts);
        }
      },
      [=](msg::flush_atom) -> caf::result<bool> {
        // Writes now (shutdown, tests): the other writers first, then every
        // snapshot row taken when the flush began, then the first writer.
        // False if a writer could not write (or died): then the rows taken
        // go back to wait, and the caller tries again later.
        auto& st = self->state;
        if (st.flushing)
          return false;
        st.flushing.emplace();
        for (std::size_t p = 0; p < st.pipelines.size(); ++p)
          (*st.flushing)[p] = std::exchange(st.pipelines[p].pending, {});
        auto rp = self->make_response_promise<bool>();
        ask_writers<bool>(
            self, 1,
            [self, rp](const std::vector<std::optional<bool>>& others) mutable {
              auto& state = self->state;
              if (!state.flushing) {  // a writer died meanwhile: the rows were put back
                rp.deliver(false);
                return;
              }
              auto taken = std::move(*state.flushing);
              state.flushing.reset();
              if (!all_true(others)) {
                put_back(self, taken);
                for (std::size_t p = 0; p < state.pipelines.size(); ++p)
                  start_release(self, p);
                rp.deliver(false);
                return;
              }
              for (std::size_t p = 0; p < taken.size(); ++p) {
                send_now(self, p, std::move(taken[p]));
                start_release(self, p);  // rows that came during the flush
              }
              ask_writers<bool>(
                  self, 0, [rp](const std::vector<std::optional<bool>>& all) mutable { rp.deliver(all_true(all)); },
                  msg::flush_atom::value);
            },
            msg::flush_atom::value);
        return rp;
      },
      // From what each writer published, never a round trip to a writer:
      // one blocked in a long write would hold every stats() and metrics()
      // of the engine for the request timeout.
      [=](msg::stats_atom) -> caf::result<msg::persistence_stats> {
        const auto& st = self->state;
        msg::persistence_stats all = st.retired;
        all.buffered = 0;
        all.lost += st.lost;
        all.snapshot_rows = st.snapshot_rows_held();
        all.writer_restarts = st.writer_restarts;
        all.connected = true;
        for (const auto& published : st.published) {
          const auto a = published->read();
          all.buffered += a.buffered;
          all.batches += a.batches;
          all.rows += a.rows;
          all.retries += a.retries;
          all.dead_letters += a.dead_letters;
          all.lost += a.lost;
          all.snapshot_rows += a.snapshot_rows;
          all.connected = all.connected && a.connected;
          if (!a.last_error.empty())
            all.last_error = a.last_error;
        }
        if (st.cfg.faults && core::fault_injection::take(st.cfg.faults->late_stats))
          return answer_late(self, std::move(all), st.cfg.faults->late_stats_delay);
        return all;
      },
  };
}

}  // namespace

msg::persistence_actor spawn_persistence(caf::actor_system& system, writer_config cfg, std::size_t connections,
                                         std::shared_ptr<core::backlog_gate> gate) {
  return system.spawn(router_behavior, std::move(cfg), connections, std::move(gate));
}

}  // namespace agentreg::db
