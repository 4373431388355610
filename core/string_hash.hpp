#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace agentreg::core {

/// A transparent hash for std::string keys: with std::equal_to<> it lets an
/// unordered container be searched by std::string_view or const char*
/// without building a std::string (a heap allocation for keys longer than
/// 15 bytes, such as UUID ids) on every lookup.
///
/// Not noexcept on purpose: libstdc++ then caches each key's hash in its
/// node (as it does for std::hash<std::string>), so a rehash or a walk
/// through a bucket does not hash the keys again.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace agentreg::core
