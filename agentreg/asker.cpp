#include "agentreg/asker.hpp"

#include <deque>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "messages/asker.hpp"
#include "messages/atoms.hpp"

namespace agentreg {

namespace {

struct asker_state {
  std::size_t max_in_flight = 0;
  std::size_t in_flight = 0;
  std::deque<msg::ask_job> waiting;
  /// sync requests, answered when the asker is next idle.
  std::vector<caf::response_promise> syncs;
  static inline const char* name = "agentreg.asker";
};

using asker_pointer = caf::stateful_actor<asker_state>*;

void start(asker_pointer self, msg::ask_job job);

// A job's last answer was handled: start the next waiting one, and answer
// the syncs that were waiting for it.
void on_finished(asker_pointer self) {
  auto& st = self->state;
  --st.in_flight;
  if (!st.waiting.empty()) {
    auto next = std::move(st.waiting.front());
    st.waiting.pop_front();
    start(self, std::move(next));
  }
  if (st.in_flight == 0) {
    for (auto& rp : st.syncs)
      rp.deliver(caf::ok_atom::value);
    st.syncs.clear();
  }
}

void start(asker_pointer self, msg::ask_job job) {
  ++self->state.in_flight;
  job.send(self, [self] { on_finished(self); });
}

caf::behavior asker(asker_pointer self, std::size_t max_in_flight) {
  self->state.max_in_flight = max_in_flight;
  return {
      [=](msg::ask_job& job) {
        auto& st = self->state;
        if (st.in_flight < st.max_in_flight)
          start(self, std::move(job));
        else
          st.waiting.push_back(std::move(job));
      },
      [=](msg::sync_atom) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        if (st.in_flight == 0)
          return caf::ok_atom::value;
        st.syncs.push_back(self->make_response_promise());
        return caf::delegated<caf::ok_atom>{};
      },
  };
}

}  // namespace

caf::actor spawn_asker(caf::actor_system& system, std::size_t max_in_flight) {
  return system.spawn(asker, max_in_flight);
}

}  // namespace agentreg
