#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/error.hpp"

namespace agentreg::core {

/// Prices of one model, in integer micro-dollars per million tokens.
struct model_price {
  std::int64_t input = 0;
  std::int64_t output = 0;
  std::int64_t cached_input = 0;
};

/// The versioned LLM price table (data/price_table.json, or a file named in
/// the registry's config). Immutable once loaded; thread-safe to read.
///
/// File format: {"version": "...", "models": {"<model>": {"input_per_million_usd":
/// 3.0, "output_per_million_usd": 15.0, "cached_input_per_million_usd": 0.3}}}
class price_table {
 public:
  /// The table shipped with agentreg (compiled in from data/price_table.json).
  static price_table builtin();
  /// Parses a table; errors name the file and the field.
  static expected<price_table> parse(const std::string& json_text, const std::string& origin);
  static expected<price_table> load(const std::string& path);

  [[nodiscard]] const std::string& version() const { return version_; }

  /// The price of a model: an exact match, else the longest table key that is
  /// a prefix of `model` (so "gpt-4o-mini" prices "gpt-4o-mini-2024-07-18").
  [[nodiscard]] const model_price* find(const std::string& model) const;

  /// Cost of one call in micro-dollars, rounded half up. `cached` tokens are
  /// part of `prompt` and priced at the cached-input rate.
  [[nodiscard]] static std::int64_t cost_micro_usd(const model_price& p, std::int64_t prompt,
                                                   std::int64_t completion, std::int64_t cached);

  [[nodiscard]] std::size_t size() const { return models_.size(); }

 private:
  std::string version_;
  std::map<std::string, model_price> models_;
};

}  // namespace agentreg::core
