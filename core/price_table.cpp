#include "core/price_table.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

namespace agentreg::core {

extern const char* const builtin_price_table_json;  // generated from data/price_table.json

namespace {

expected<std::int64_t> micro_per_million(const boost::json::object& model, const char* field,
                                         const std::string& where) {
  const auto* v = model.if_contains(field);
  if (v == nullptr)
    return error{errc::invalid_argument, where + ": missing " + field};
  double usd = 0;
  if (v->is_double())
    usd = v->get_double();
  else if (v->is_int64())
    usd = static_cast<double>(v->get_int64());
  else if (v->is_uint64())
    usd = static_cast<double>(v->get_uint64());
  else
    return error{errc::invalid_argument, where + ": " + field + " is not a number"};
  if (!std::isfinite(usd) || usd < 0 || usd > 1000)
    return error{errc::invalid_argument, where + ": " + field + " out of range (0..1000 USD per million tokens)"};
  return static_cast<std::int64_t>(std::llround(usd * 1e6));
}

}  // namespace

expected<price_table> price_table::parse(const std::string& json_text, const std::string& origin) {
  boost::system::error_code ec;
  const boost::json::value root = boost::json::parse(json_text, ec);
  if (ec)
    return error{errc::invalid_argument, origin + ": not valid JSON: " + ec.message()};
  const auto* obj = root.if_object();
  const auto* version = obj ? obj->if_contains("version") : nullptr;
  const auto* models = obj ? obj->if_contains("models") : nullptr;
  if (version == nullptr || !version->is_string() || models == nullptr || !models->is_object())
    return error{errc::invalid_argument, origin + ": needs a string \"version\" and an object \"models\""};
  price_table t;
  t.version_ = std::string{version->get_string()};
  for (const auto& [name, value] : models->get_object()) {
    const std::string where = origin + ": model " + std::string{name};
    if (!value.is_object())
      return error{errc::invalid_argument, where + " is not an object"};
    auto in = micro_per_million(value.get_object(), "input_per_million_usd", where);
    auto out = micro_per_million(value.get_object(), "output_per_million_usd", where);
    if (!in)
      return in.error();
    if (!out)
      return out.error();
    model_price p{*in, *out, *in};
    if (value.get_object().contains("cached_input_per_million_usd")) {
      auto cached = micro_per_million(value.get_object(), "cached_input_per_million_usd", where);
      if (!cached)
        return cached.error();
      p.cached_input = *cached;
    }
    t.models_.emplace(std::string{name}, p);
  }
  return t;
}

expected<price_table> price_table::load(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return error{errc::invalid_argument, "cannot read price table " + path};
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

price_table price_table::builtin() {
  auto t = parse(builtin_price_table_json, "builtin price table");
  return t ? *t : price_table{};
}

const model_price* price_table::find(const std::string& model) const {
  if (auto it = models_.find(model); it != models_.end())
    return &it->second;
  const model_price* best = nullptr;
  std::size_t best_len = 0;
  for (const auto& [name, price] : models_)
    if (name.size() > best_len && model.compare(0, name.size(), name) == 0) {
      best = &price;
      best_len = name.size();
    }
  return best;
}

std::int64_t price_table::cost_micro_usd(const model_price& p, std::int64_t prompt, std::int64_t completion,
                                         std::int64_t cached) {
  // Token counts are validated to <= 10^9 and prices to <= 10^9 micro-dollars
  // per million (1000 USD): each product is <= 10^18, the sum < 2^63.
  const std::int64_t numerator = (prompt - cached) * p.input + cached * p.cached_input + completion * p.output;
  return static_cast<std::int64_t>((numerator + 500'000) / 1'000'000);
}

}  // namespace agentreg::core
