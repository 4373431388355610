// GET /v1/watch: the change stream over HTTP (docs/watch.md).

#include "server/watch.hpp"

#include <algorithm>
#include <map>

#include "server/api_common.hpp"
#include "server/encode.hpp"

namespace agentreg::http {

using steady = std::chrono::steady_clock;

namespace {

const char* outcome_text(execution_status s) {
  switch (s) {
    case execution_status::running: return "running";
    case execution_status::success: return "success";
    case execution_status::failed: return "failed";
    case execution_status::timeout: return "timeout";
  }
  return "";
}

boost::json::object change_object(const core::change& c) {
  boost::json::object o;
  o["revision"] = c.revision;
  o["kind"] = core::to_string(c.kind);
  o["at"] = time_json(c.at);
  if (c.kind == core::change_kind::leases_expired || c.kind == core::change_kind::sweep_degraded) {
    o["count"] = c.count;
    return o;
  }
  o["agent_id"] = c.agent_id;
  o["agent_type"] = c.agent_type;
  o["status"] = core::to_string(c.status);
  o["current_load"] = c.current_load;
  o["max_capacity"] = c.max_capacity;
  if (c.kind == core::change_kind::execution_completed) {
    o["execution_id"] = c.execution_id;
    o["outcome"] = outcome_text(c.outcome);
    o["duration_ms"] = c.duration_ms;
    o["total_tokens"] = c.total_tokens;
    o["cost_micro_usd"] = c.cost_micro_usd;
  }
  return o;
}

// The final event of a stream that cannot go on from where it is.
std::shared_ptr<const std::string> compacted_event(std::uint64_t revision, std::uint64_t compacted_revision) {
  return std::make_shared<const std::string>("event: compacted\ndata: {\"revision\":" + std::to_string(revision) +
                                             ",\"compacted_revision\":" + std::to_string(compacted_revision) +
                                             "}\n\n");
}

response poll_answer(const core::change_batch& b) {
  boost::json::array changes;
  for (const auto& c : b.changes)
    changes.push_back(change_object(c));
  boost::json::object o;
  o["revision"] = b.revision;
  o["compacted"] = b.compacted;
  o["compacted_revision"] = b.compacted_revision;
  o["changes"] = std::move(changes);
  auto r = json_response(200, o);
  r.headers.emplace_back("X-Agentreg-Revision", std::to_string(b.revision));
  return r;
}

// "30s", "500ms", "2m" or plain seconds; nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_wait(const std::string& s) {
  std::size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(s, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (n < 0 || used == 0)
    return std::nullopt;
  const auto unit = s.substr(used);
  if (unit == "ms")
    return std::chrono::milliseconds{n};
  if (unit == "s" || unit.empty())
    return std::chrono::milliseconds{n * 1000};
  if (unit == "m")
    return std::chrono::milliseconds{n * 60'000};
  return std::nullopt;
}

std::optional<std::uint64_t> parse_revision(const std::string& s) {
  if (s.empty() || s.size() > 20 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  try {
    return std::stoull(s);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::string change_json(const core::change& c) { return boost::json::serialize(change_object(c)); }

void watch_hub::inbox::poke() {
  {
    std::lock_guard lock{mutex};
    dirty = true;
  }
  wake.notify_one();
}

watch_hub::watch_hub(const registry& reg, watch_options options) : reg_(reg), options_(options) {
  // On the change log's publisher thread: only a flag and a notify.
  subscription_ = reg_.on_new_revision([in = inbox_](std::uint64_t) { in->poke(); });
  thread_ = std::thread{[this] { run(); }};
}

watch_hub::~watch_hub() {
  stop();
  thread_.join();
}

void watch_hub::stop() {
  {
    std::lock_guard lock{inbox_->mutex};
    if (inbox_->stop)
      return;
    inbox_->stop = true;
  }
  inbox_->wake.notify_one();
}

void watch_hub::add_stream(std::uint64_t since, std::shared_ptr<stream_writer> w) {
  auto s = std::make_shared<stream>();
  s->last = since;
  s->writer = std::move(w);
  s->last_write = steady::now();
  counters_.watchers.fetch_add(1, std::memory_order_relaxed);  // relaxed: a gauge
  s->writer->on_close([s, in = inbox_] {
    s->gone.store(true, std::memory_order_release);  // pairs with the acquire in serve_streams
    in->poke();
  });
  bool stopped = false;
  {
    std::lock_guard lock{inbox_->mutex};
    stopped = inbox_->stop;
    if (!stopped) {
      inbox_->streams.push_back(s);
      inbox_->dirty = true;
    }
  }
  if (stopped) {
    counters_.watchers.fetch_sub(1, std::memory_order_relaxed);
    s->writer->finish();
    return;
  }
  inbox_->wake.notify_one();
}

void watch_hub::add_poll(std::uint64_t since, steady::time_point deadline, responder respond) {
  {
    std::lock_guard lock{inbox_->mutex};
    if (!inbox_->stop) {
      counters_.watchers.fetch_add(1, std::memory_order_relaxed);
      inbox_->polls.push_back({since, deadline, std::move(respond)});
      inbox_->dirty = true;
      respond = nullptr;
    }
  }
  if (respond)
    return respond(error_response("shutting_down", "the server is stopping"));
  inbox_->wake.notify_one();
}

void watch_hub::run() {
  std::vector<std::shared_ptr<stream>> streams;
  std::vector<poll> polls;
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lock{inbox_->mutex};
      // Wake for the next deadline: a long poll's end, or a stream's keep-alive.
      auto until = steady::now() + options_.keep_alive;
      for (const auto& p : polls)
        until = std::min(until, p.deadline);
      inbox_->wake.wait_until(lock, until, [&] { return inbox_->stop || inbox_->dirty; });
      inbox_->dirty = false;
      stopping = inbox_->stop;
      for (auto& s : inbox_->streams)
        streams.push_back(std::move(s));
      inbox_->streams.clear();
      for (auto& p : inbox_->polls)
        polls.push_back(std::move(p));
      inbox_->polls.clear();
    }
    const auto now = steady::now();
    serve_polls(polls, stopping);
    serve_streams(streams, now);
    if (stopping) {
      for (auto& s : streams) {
        s->writer->finish();
        counters_.watchers.fetch_sub(1, std::memory_order_relaxed);
      }
      return;
    }
  }
}

// Long polls: answered when their revision has changes (or is compacted),
// or at their deadline with none; every one when `all` (stopping).
void watch_hub::serve_polls(std::vector<poll>& polls, bool all) {
  auto kept = polls.begin();
  for (auto& p : polls) {
    auto b = reg_.changes_since(p.since, options_.batch);
    if (b.compacted || !b.changes.empty() || all || steady::now() >= p.deadline) {
      counters_.events_sent.fetch_add(static_cast<std::int64_t>(b.changes.size()), std::memory_order_relaxed);
      counters_.watchers.fetch_sub(1, std::memory_order_relaxed);
      p.respond(poll_answer(b));
      continue;
    }
    *kept++ = std::move(p);
  }
  polls.erase(kept, polls.end());
}

// Streams: those at the same revision share one read and one encoding.
void watch_hub::serve_streams(std::vector<std::shared_ptr<stream>>& streams, steady::time_point now) {
  // relaxed increments of the counters below: counts for display.
  std::map<std::uint64_t, std::vector<stream*>> by_revision;
  for (auto& s : streams)
    if (!s->gone.load(std::memory_order_acquire))  // pairs with the release in the close callback
      by_revision[s->last].push_back(s.get());
  for (auto& [since, group] : by_revision) {
    std::uint64_t from = since;
    for (;;) {
      auto b = reg_.changes_since(from, options_.batch);
      if (b.compacted) {
        auto last = compacted_event(b.revision, b.compacted_revision);
        for (auto* s : group) {
          s->writer->send(last);
          s->writer->finish();
        }
        group.clear();
        break;
      }
      if (b.changes.empty())
        break;
      std::string text;
      for (const auto& c : b.changes)
        text.append("id: ").append(std::to_string(c.revision)).append("\nevent: change\ndata: ").append(change_json(c)).append("\n\n");
      auto chunk = std::make_shared<const std::string>(std::move(text));
      const auto next = b.changes.size() < options_.batch ? b.revision : b.changes.back().revision;
      auto kept = group.begin();
      for (auto* s : group) {
        if (s->writer->buffered() > options_.max_buffered_bytes) {
          // A client this far behind is not buffered for without bound: it
          // is told to re-list, as if it had fallen behind the ring.
          counters_.disconnects.fetch_add(1, std::memory_order_relaxed);
          s->writer->send(compacted_event(b.revision, b.compacted_revision));
          s->writer->finish();
          continue;
        }
        if (s->writer->send(chunk))
          counters_.events_sent.fetch_add(static_cast<std::int64_t>(b.changes.size()), std::memory_order_relaxed);
        s->last = next;
        s->last_write = now;
        *kept++ = s;
      }
      group.erase(kept, group.end());
      if (group.empty() || b.changes.size() < options_.batch)
        break;
      from = next;
    }
  }
  // Keep-alives on quiet streams; the gone, compacted and slow ones leave.
  static const auto keep_alive = std::make_shared<const std::string>(": keep-alive\n\n");
  auto kept = streams.begin();
  for (auto& s : streams) {
    const bool finished = s->gone.load(std::memory_order_acquire);
    if (finished) {
      counters_.watchers.fetch_sub(1, std::memory_order_relaxed);
      continue;
    }
    if (now - s->last_write >= options_.keep_alive) {
      s->writer->send(keep_alive);
      s->last_write = now;
    }
    *kept++ = std::move(s);
  }
  streams.erase(kept, streams.end());
}

void add_watch_routes(router& table, const registry& reg, watch_hub& hub) {
  table.add({method::get, "/v1/watch", scope::read,
             [&reg, &hub](const request& req, responder respond) {
               query_reader q{req, {"since", "wait"}};
               std::optional<std::uint64_t> since;
               if (const auto* s = q.get("since")) {
                 since = parse_revision(*s);
                 if (!since)
                   throw decode_error("invalid_request", "since must be a revision (a non-negative integer)");
               }
               if (const auto* w = q.get("wait")) {
                 auto wait = parse_wait(*w);
                 if (!wait || *wait > hub.options().max_wait)
                   throw decode_error("invalid_request",
                                      "wait must be a duration (30s, 500ms, 2m) of at most " +
                                          std::to_string(hub.options().max_wait.count() / 1000) + " s");
                 // Without since, the next change after now.
                 hub.add_poll(since ? *since : reg.revision(), steady::now() + *wait, std::move(respond));
                 return;
               }
               // An EventSource that reconnects sends Last-Event-ID with the
               // URL it first used: the header is the newer position.
               if (!req.last_event_id.empty()) {
                 since = parse_revision(req.last_event_id);
                 if (!since)
                   throw decode_error("invalid_request", "Last-Event-ID must be a revision");
               }
               const auto from = since ? *since : reg.revision();
               response r;
               r.content_type = "text/event-stream";
               r.headers.emplace_back("X-Agentreg-Revision", std::to_string(from));
               r.stream = [&hub, from](std::shared_ptr<stream_writer> w) {
                 w->send(std::make_shared<const std::string>(": watching after revision " + std::to_string(from) +
                                                             "\n\n"));
                 hub.add_stream(from, std::move(w));
               };
               respond(std::move(r));
             },
             "The change stream: Server-Sent Events, or a long poll with wait", {200}, false, true,
             // It waits on the hub, not on the engine: a watcher holds no engine slot.
             engine_use::none});
}

}  // namespace agentreg::http
