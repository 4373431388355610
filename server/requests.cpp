#include "server/requests.hpp"

#include <algorithm>

#include <boost/json/serialize.hpp>

namespace agentreg::http {

namespace {

void add_unique(std::vector<std::string>& to, std::string s) {
  if (std::find(to.begin(), to.end(), s) == to.end())
    to.push_back(std::move(s));
}

std::optional<std::int64_t> ttl(fields& f) {
  auto t = f.integer("ttl_ms");
  if (t && (*t < 1 || *t > lease_request::max_ttl_ms))
    throw decode_error("invalid_argument", "ttl_ms must be within 1..86400000 (24 h)");
  return t;
}

// Card fields are checked with their own messages (invalid_argument: the
// JSON is well-formed, the card is not); extra fields are kept, as A2A
// cards carry extensions.
const boost::json::value& card_field(const boost::json::object& o, std::string_view where, std::string_view key,
                                     boost::json::kind kind, const char* expected) {
  auto it = o.find(boost::json::string_view{key.data(), key.size()});
  if (it == o.end())
    throw decode_error("invalid_argument", std::string{where} + "." + std::string{key} + " is required");
  if (it->value().kind() != kind)
    throw decode_error("invalid_argument", std::string{where} + "." + std::string{key} + " must be " + expected);
  return it->value();
}

void card_string(const boost::json::object& o, std::string_view where, std::string_view key) {
  card_field(o, where, key, boost::json::kind::string, "a string");
}

const boost::json::array& card_strings(const boost::json::object& o, std::string_view where, std::string_view key) {
  const auto& a = card_field(o, where, key, boost::json::kind::array, "an array of strings").get_array();
  for (const auto& item : a)
    if (!item.is_string())
      throw decode_error("invalid_argument", std::string{where} + "." + std::string{key} + " must hold strings only");
  return a;
}

}  // namespace

std::vector<std::string> card_skills(const boost::json::object& card) {
  const std::string_view where = "agent_card";
  card_string(card, where, "name");
  card_string(card, where, "description");
  card_string(card, where, "version");
  card_field(card, where, "capabilities", boost::json::kind::object, "an object");
  card_strings(card, where, "defaultInputModes");
  card_strings(card, where, "defaultOutputModes");
  if (card.contains("supportedInterfaces")) {  // v1.0
    const auto& interfaces =
        card_field(card, where, "supportedInterfaces", boost::json::kind::array, "an array").get_array();
    if (interfaces.empty())
      throw decode_error("invalid_argument", "agent_card.supportedInterfaces must not be empty");
    for (std::size_t i = 0; i < interfaces.size(); ++i) {
      const std::string at = "agent_card.supportedInterfaces[" + std::to_string(i) + "]";
      if (!interfaces[i].is_object())
        throw decode_error("invalid_argument", at + " must be an object");
      for (const char* key : {"url", "protocolBinding", "protocolVersion"})
        card_string(interfaces[i].get_object(), at, key);
    }
  } else if (card.contains("url")) {  // v0.3: one URL and the protocol version at the top
    card_string(card, where, "url");
    card_string(card, where, "protocolVersion");
  } else {
    throw decode_error("invalid_argument",
                       "agent_card needs supportedInterfaces (A2A v1.0) or url and protocolVersion (v0.3)");
  }
  std::vector<std::string> skills;
  const auto& list = card_field(card, where, "skills", boost::json::kind::array, "an array").get_array();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string at = "agent_card.skills[" + std::to_string(i) + "]";
    if (!list[i].is_object())
      throw decode_error("invalid_argument", at + " must be an object");
    const auto& skill = list[i].get_object();
    for (const char* key : {"id", "name", "description"})
      card_string(skill, at, key);
    const auto& tags = card_strings(skill, at, "tags");
    add_unique(skills, std::string{skill.at("id").get_string()});
    for (const auto& tag : tags)
      add_unique(skills, std::string{tag.get_string()});
  }
  return skills;
}

register_request tag_invoke(boost::json::value_to_tag<register_request>, const boost::json::value& v) {
  fields f{v, ""};
  register_request r;
  auto& s = r.spec;
  s.agent_id = f.required_string("agent_id");
  s.agent_type = f.required_string("agent_type");
  s.llm_provider = f.string("llm_provider").value_or("");
  s.model_name = f.string("model_name").value_or("");
  s.temperature = f.number("temperature").value_or(s.temperature);
  s.max_tokens = f.integer("max_tokens").value_or(s.max_tokens);
  s.max_capacity = f.integer("max_capacity").value_or(s.max_capacity);
  if (const auto* meta = f.object("metadata"))
    for (const auto& kv : *meta) {
      if (!kv.value().is_string())
        throw decode_error("invalid_request", "metadata." + std::string{kv.key()} + " must be a string");
      s.metadata.emplace(std::string{kv.key()}, std::string{kv.value().get_string()});
    }
  for (auto& skill : f.strings("skills").value_or(std::vector<std::string>{}))
    add_unique(s.skills, std::move(skill));
  if (const auto* card = f.object("agent_card")) {
    for (auto& skill : card_skills(*card))
      add_unique(s.skills, std::move(skill));
    s.agent_card = boost::json::serialize(*card);
  }
  f.done();
  return r;
}

heartbeat_request tag_invoke(boost::json::value_to_tag<heartbeat_request>, const boost::json::value& v) {
  fields f{v, ""};
  heartbeat_request r{f.integer("current_load")};
  f.done();
  return r;
}

heartbeat_batch tag_invoke(boost::json::value_to_tag<heartbeat_batch>, const boost::json::value& v) {
  fields f{v, ""};
  const auto* list = f.value("heartbeats");
  if (!list || !list->is_array())
    throw decode_error("invalid_request", "heartbeats must be an array");
  f.done();
  const auto& items = list->get_array();
  if (items.size() > heartbeat_batch::max_batch)
    throw decode_error("invalid_request", "at most 1000 heartbeats per request, got " + std::to_string(items.size()));
  heartbeat_batch b;
  b.heartbeats.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    fields item{items[i], "heartbeats[" + std::to_string(i) + "]"};
    heartbeat_item h{item.required_string("agent_id"), item.integer("current_load")};
    item.done();
    b.heartbeats.push_back(std::move(h));
  }
  return b;
}

status_request tag_invoke(boost::json::value_to_tag<status_request>, const boost::json::value& v) {
  fields f{v, ""};
  const auto name = f.required_string("status");
  f.done();
  auto s = core::parse_agent_status(name);
  if (!s)
    throw decode_error("invalid_status", "unknown status \"" + name + "\" (online, offline, paused)");
  return {*s};
}

load_request tag_invoke(boost::json::value_to_tag<load_request>, const boost::json::value& v) {
  fields f{v, ""};
  load_request r{f.required_integer("current_load")};
  f.done();
  return r;
}

lease_request tag_invoke(boost::json::value_to_tag<lease_request>, const boost::json::value& v) {
  fields f{v, ""};
  lease_request r;
  r.agent_type = f.required_string("agent_type");
  r.ttl_ms = ttl(f);
  f.done();
  return r;
}

renew_request tag_invoke(boost::json::value_to_tag<renew_request>, const boost::json::value& v) {
  fields f{v, ""};
  renew_request r{ttl(f)};
  f.done();
  return r;
}

start_request tag_invoke(boost::json::value_to_tag<start_request>, const boost::json::value& v) {
  fields f{v, ""};
  start_request r;
  r.agent_id = f.required_string("agent_id");
  r.task.task_type = f.string("task_type").value_or("");
  r.task.workflow_slug = f.string("workflow_slug").value_or("");
  r.task.run_id = f.string("run_id").value_or("");
  f.done();
  return r;
}

complete_request tag_invoke(boost::json::value_to_tag<complete_request>, const boost::json::value& v) {
  fields f{v, ""};
  complete_request r;
  const auto status = f.required_string("status");
  auto s = core::parse_execution_status(status);
  if (!s || *s == core::execution_status::running)
    throw decode_error("invalid_status", "unknown status \"" + status + "\" (success, failed, timeout)");
  r.status = *s;
  auto& m = r.metrics;
  m.prompt_tokens = f.integer("prompt_tokens");
  m.completion_tokens = f.integer("completion_tokens");
  m.cached_tokens = f.integer("cached_tokens");
  m.total_tokens = f.integer("total_tokens");
  m.estimated_cost_usd = f.number("estimated_cost_usd");
  m.success_score = f.number("success_score");
  m.retry_count = f.integer("retry_count").value_or(0);
  m.error_message = f.string("error_message").value_or("");
  f.done();
  return r;
}

tool_request tag_invoke(boost::json::value_to_tag<tool_request>, const boost::json::value& v) {
  fields f{v, ""};
  tool_request r;
  r.tool_name = f.required_string("tool_name");
  r.call.execution_id = f.string("execution_id").value_or("");
  r.call.success_count = f.integer("success_count").value_or(0);
  r.call.failure_count = f.integer("failure_count").value_or(0);
  r.call.duration_ms = f.number("duration_ms").value_or(0);
  f.done();
  return r;
}

}  // namespace agentreg::http
