#include "core/types.hpp"

#include <array>

#include "core/error.hpp"

namespace agentreg::core {

const char* to_string(errc e) {
  switch (e) {
    case errc::ok: return "ok";
    case errc::invalid_argument: return "invalid_argument";
    case errc::unknown_agent: return "unknown_agent";
    case errc::unknown_type: return "unknown_type";
    case errc::unknown_execution: return "unknown_execution";
    case errc::already_completed: return "already_completed";
    case errc::invalid_capacity: return "invalid_capacity";
    case errc::capacity_below_load: return "capacity_below_load";
    case errc::load_out_of_range: return "load_out_of_range";
    case errc::invalid_status: return "invalid_status";
    case errc::invalid_tokens: return "invalid_tokens";
    case errc::invalid_cost: return "invalid_cost";
    case errc::invalid_score: return "invalid_score";
    case errc::no_capacity: return "no_capacity";
    case errc::lease_not_held: return "lease_not_held";
    case errc::persistence_backlog: return "persistence_backlog";
    case errc::shutting_down: return "shutting_down";
    case errc::internal: return "internal";
    case errc::limit_reached: return "limit_reached";
  }
  return "unknown";
}

namespace {
constexpr const char* agent_status_names[] = {"online", "offline", "paused", "busy"};
constexpr const char* execution_status_names[] = {"running", "success", "failed", "timeout"};
constexpr const char* group_by_names[] = {"agent", "agent_type", "model", "task_type", "workflow"};

template <class Enum, std::size_t N>
std::optional<Enum> parse_name(const char* const (&names)[N], std::string_view s) {
  for (std::size_t i = 0; i < N; ++i)
    if (s == names[i])
      return static_cast<Enum>(i);
  return std::nullopt;
}

// A value outside the enum (an integer cast to it) is "unknown", never
// another value's name.
template <std::size_t N>
const char* name_of(const char* const (&names)[N], unsigned value) {
  return value < N ? names[value] : "unknown";
}
}  // namespace

const char* to_string(agent_status s) { return name_of(agent_status_names, static_cast<unsigned>(s)); }
const char* to_string(execution_status s) { return name_of(execution_status_names, static_cast<unsigned>(s)); }
const char* to_string(group_by g) { return name_of(group_by_names, static_cast<unsigned>(g)); }
std::optional<agent_status> parse_agent_status(std::string_view s) {
  return parse_name<agent_status>(agent_status_names, s);
}
std::optional<execution_status> parse_execution_status(std::string_view s) {
  return parse_name<execution_status>(execution_status_names, s);
}
std::optional<group_by> parse_group_by(std::string_view s) { return parse_name<group_by>(group_by_names, s); }

// ---- lease text: base64url (RFC 4648 section 5, no padding) of 24 bytes ----

namespace {

constexpr char base64url_digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::size_t lease_bytes = 24;             // pool, slot, generation, record: 4 each; the secret: 8
constexpr std::size_t lease_text_size = lease_bytes / 3 * 4;

constexpr auto base64url_values = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(0xFF);
  for (std::uint8_t v = 0; v < 64; ++v)
    t[static_cast<unsigned char>(base64url_digits[v])] = v;
  return t;
}();

void put_le(std::uint8_t* out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint64_t get_le(const std::uint8_t* in, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= std::uint64_t{in[i]} << (8 * i);
  return v;
}

}  // namespace

std::string to_string(const lease& l) {
  std::uint8_t raw[lease_bytes];
  put_le(raw, l.pool, 4);
  put_le(raw + 4, l.slot, 4);
  put_le(raw + 8, l.generation, 4);
  put_le(raw + 12, l.record, 4);
  put_le(raw + 16, l.lease_id, 8);
  std::string out(lease_text_size, '\0');
  for (std::size_t i = 0, o = 0; i < lease_bytes; i += 3, o += 4) {
    const std::uint32_t group = std::uint32_t{raw[i]} << 16 | std::uint32_t{raw[i + 1]} << 8 | raw[i + 2];
    for (std::size_t k = 0; k < 4; ++k)
      out[o + k] = base64url_digits[(group >> (18 - 6 * k)) & 63];
  }
  return out;
}

std::optional<lease> parse_lease(std::string_view text) {
  if (text.size() != lease_text_size)
    return std::nullopt;
  std::uint8_t raw[lease_bytes];
  for (std::size_t i = 0, o = 0; o < lease_bytes; i += 4, o += 3) {
    std::uint32_t group = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const std::uint8_t v = base64url_values[static_cast<unsigned char>(text[i + k])];
      if (v == 0xFF)
        return std::nullopt;
      group = group << 6 | v;
    }
    raw[o] = static_cast<std::uint8_t>(group >> 16);
    raw[o + 1] = static_cast<std::uint8_t>(group >> 8);
    raw[o + 2] = static_cast<std::uint8_t>(group);
  }
  lease l;
  l.pool = static_cast<std::uint32_t>(get_le(raw, 4));
  l.slot = static_cast<std::uint32_t>(get_le(raw + 4, 4));
  l.generation = static_cast<std::uint32_t>(get_le(raw + 8, 4));
  l.record = static_cast<std::uint32_t>(get_le(raw + 12, 4));
  l.lease_id = get_le(raw + 16, 8);
  return l;
}

}  // namespace agentreg::core
