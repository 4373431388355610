#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace agentreg::core {

/// A 128-bit id, as text "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".
struct uuid {
  std::uint64_t hi = 0, lo = 0;
  friend bool operator==(const uuid&, const uuid&) = default;
};

/// A random (version 4) UUID: 122 bits from the operating system's random
/// source (core::random_u64), so that an id cannot be guessed from others.
/// Thread-safe, and without coordination: each thread has its own buffer.
uuid make_uuid();

/// Characters of the text form.
inline constexpr std::size_t uuid_text_length = 36;

/// Writes the text form (lower case) to `out[0 .. uuid_text_length)`.
void to_chars(const uuid& u, char* out);
std::string to_string(const uuid& u);

/// Parses the 36-character text form (either case); nullopt if malformed.
std::optional<uuid> parse_uuid(std::string_view text);

struct uuid_hash {
  std::size_t operator()(const uuid& u) const noexcept { return u.hi ^ (u.lo * 0x9E3779B97F4A7C15ull); }
};

}  // namespace agentreg::core
