#include "persistence/persistence_router.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace agentreg::db {

namespace {

struct router_state {
  std::vector<msg::persistence_actor> writers;
  static inline const char* name = "agentreg.persistence_router";

  std::size_t writer_of(std::string_view id) const { return std::hash<std::string_view>{}(id) % writers.size(); }
};

using router_pointer = msg::persistence_actor::stateful_pointer<router_state>;

// Splits a batch by writer; answers one batch per writer (some empty).
std::vector<msg::record_batch> split(const router_state& st, msg::record_batch& b) {
  std::vector<msg::record_batch> out(st.writers.size());
  for (auto& e : b.started)
    out[st.writer_of(e.id)].started.push_back(std::move(e));
  for (auto& e : b.completed)
    out[st.writer_of(e.id)].completed.push_back(std::move(e));
  for (auto& t : b.tool_calls)
    out[st.writer_of(t.id)].tool_calls.push_back(std::move(t));
  return out;
}

// Asks every writer `x...` and calls done(answers) with the answers in
// writer order once all are in; a writer that fails to answer gives nullopt.
template <class T, class Done, class... Ts>
void ask_all(router_pointer self, Done done, Ts... xs) {
  const auto n = self->state.writers.size();
  auto answers = std::make_shared<std::vector<std::optional<T>>>(n);
  auto waiting = std::make_shared<std::size_t>(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto on_answer = [answers, waiting, done, i](std::optional<T> answer) mutable {
      (*answers)[i] = std::move(answer);
      if (--*waiting == 0)
        done(*answers);
    };
    self->request(self->state.writers[i], caf::infinite, xs...)
        .then([on_answer](T& answer) mutable { on_answer(std::move(answer)); },
              [on_answer](caf::error&) mutable { on_answer(std::nullopt); });
  }
}

msg::persistence_actor::behavior_type router_behavior(router_pointer self, writer_config cfg,
                                                      std::size_t connections,
                                                      std::shared_ptr<core::backlog_gate> gate) {
  for (std::size_t i = 0; i < std::max<std::size_t>(connections, 1); ++i)
    self->state.writers.push_back(spawn_persistence_writer(self->system(), cfg, gate));
  self->attach_functor([writers = self->state.writers] {
    for (const auto& w : writers)
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  });
  return {
      [=](msg::batch_atom, msg::record_batch& b) {
        auto& st = self->state;
        if (st.writers.size() == 1) {
          self->send(st.writers.front(), msg::batch_atom::value, std::move(b));
          return;
        }
        auto parts = split(st, b);
        for (std::size_t i = 0; i < parts.size(); ++i)
          if (!parts[i].empty())
            self->send(st.writers[i], msg::batch_atom::value, std::move(parts[i]));
      },
      [=](msg::snapshot_atom, msg::snapshots& s) {
        self->send(self->state.writers.front(), msg::snapshot_atom::value, std::move(s));
      },
      [=](caf::tick_atom) {},  // the writers keep their own timers
      [=](msg::flush_atom) -> caf::result<bool> {
        auto rp = self->make_response_promise<bool>();
        ask_all<bool>(
            self,
            [rp](const std::vector<std::optional<bool>>& answers) mutable {
              rp.deliver(std::all_of(answers.begin(), answers.end(), [](const auto& a) { return a && *a; }));
            },
            msg::flush_atom::value);
        return rp;
      },
      [=](msg::stats_atom) -> caf::result<msg::persistence_stats> {
        auto rp = self->make_response_promise<msg::persistence_stats>();
        ask_all<msg::persistence_stats>(
            self,
            [rp](const std::vector<std::optional<msg::persistence_stats>>& answers) mutable {
              msg::persistence_stats all;
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
