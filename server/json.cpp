#include "server/json.hpp"

#include <algorithm>
#include <cmath>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

namespace agentreg::http {

namespace {

// A basic_parser handler that builds the value (through a value_stack) and
// refuses duplicate keys: Boost.JSON's own parser keeps the last of them
// silently, which would let "status" mean two things in one request.
class strict_handler {
 public:
  static constexpr std::size_t max_object_size = boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size = boost::json::string::max_size();

  boost::json::value_stack stack;
  std::string duplicate;  // the duplicated key, once found
  bool out_of_range = false;  // a number beyond the double range was found

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    starts_.push_back(keys_.size());
    return true;
  }
  bool on_object_end(std::size_t n, boost::system::error_code& ec) {
    // Sorting the object's keys finds a duplicate in n log n, however many
    // keys a hostile body has.
    const auto begin = keys_.begin() + static_cast<std::ptrdiff_t>(starts_.back());
    std::sort(begin, keys_.end());
    if (auto d = std::adjacent_find(begin, keys_.end()); d != keys_.end()) {
      duplicate = *d;
      ec = boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
      return false;
    }
    keys_.erase(begin, keys_.end());
    starts_.pop_back();
    stack.push_object(n);
    return true;
  }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(std::size_t n, boost::system::error_code&) {
    stack.push_array(n);
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    key_.append(s.data(), s.size());
    stack.push_chars(s);
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    key_.append(s.data(), s.size());
    keys_.push_back(std::move(key_));
    key_.clear();
    stack.push_key(s);
    return true;
  }
  bool on_string_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    stack.push_string(s);
    return true;
  }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t i, boost::json::string_view, boost::system::error_code&) {
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, boost::json::string_view, boost::system::error_code&) {
    stack.push_uint64(u);
    return true;
  }
  // A literal beyond the double range (1e400) parses as an infinity, which
  // JSON cannot hold: kept in a free-form field (metadata, an agent card's
  // extensions) it would be served back and stored as "Infinity". Refused
  // here, the one place every number passes, as malformed JSON.
  bool on_double(double d, boost::json::string_view, boost::system::error_code& ec) {
    if (!std::isfinite(d)) {
      out_of_range = true;
      ec = boost::system::errc::make_error_code(boost::system::errc::result_out_of_range);
      return false;
    }
    stack.push_double(d);
    return true;
  }
  bool on_bool(bool b, boost::system::error_code&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(boost::system::error_code&) {
    stack.push_null();
    return true;
  }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }

 private:
  std::string key_;                  // a key arriving in parts
  std::vector<std::string> keys_;    // keys of the open objects, innermost last
  std::vector<std::size_t> starts_;  // where each open object's keys begin
};

const char* kind_name(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return "a number";
    case boost::json::kind::string: return "a string";
    case boost::json::kind::array: return "an array";
    case boost::json::kind::object: return "an object";
  }
  return "?";
}

}  // namespace

boost::json::value parse_strict(std::string_view text, std::size_t max_depth) {
  boost::json::parse_options options;
  options.max_depth = max_depth;
  boost::json::basic_parser<strict_handler> parser{options};
  parser.handler().stack.reset();
  boost::system::error_code ec;
  const auto used = parser.write_some(false, text.data(), text.size(), ec);
  if (!parser.handler().duplicate.empty())
    throw decode_error("invalid_request", "duplicate key \"" + parser.handler().duplicate + "\"");
  if (parser.handler().out_of_range)
    throw decode_error("malformed_json", "malformed JSON at byte " + std::to_string(used) +
                                             ": a number beyond the double range");
  if (ec)
    throw decode_error("malformed_json", "malformed JSON at byte " + std::to_string(used) + ": " + ec.message());
  if (used != text.size())
    throw decode_error("malformed_json", "malformed JSON: text after the value at byte " + std::to_string(used));
  return parser.handler().stack.release();
}

fields::fields(const boost::json::value& v, std::string where)
    : obj_(v.is_object() ? v.get_object()
                         : throw decode_error("invalid_request",
                                              (where.empty() ? std::string{"the body"} : where) +
                                                  " must be a JSON object, not " + kind_name(v))),
      where_(std::move(where)) {}

std::string fields::name(std::string_view key) const {
  return where_.empty() ? std::string{key} : where_ + "." + std::string{key};
}

const boost::json::value* fields::find(std::string_view key) {
  asked_.push_back(key);
  auto it = obj_.find(boost::json::string_view{key.data(), key.size()});
  if (it == obj_.end() || it->value().is_null())
    return nullptr;
  return &it->value();
}

const boost::json::value* fields::value(std::string_view key) { return find(key); }

const boost::json::object* fields::object(std::string_view key) {
  const auto* v = find(key);
  if (!v)
    return nullptr;
  if (!v->is_object())
    throw decode_error("invalid_request", name(key) + " must be an object, not " + kind_name(*v));
  return &v->get_object();
}

std::optional<std::string> fields::string(std::string_view key) {
  const auto* v = find(key);
  if (!v)
    return std::nullopt;
  if (!v->is_string())
    throw decode_error("invalid_request", name(key) + " must be a string, not " + kind_name(*v));
  return std::string{v->get_string().data(), v->get_string().size()};
}

std::string fields::required_string(std::string_view key) {
  auto s = string(key);
  if (!s)
    throw decode_error("invalid_request", name(key) + " is required");
  return std::move(*s);
}

std::optional<std::int64_t> fields::integer(std::string_view key) {
  const auto* v = find(key);
  if (!v)
    return std::nullopt;
  if (v->is_int64())
    return v->get_int64();
  if (v->is_uint64())  // only above INT64_MAX: smaller ones parse as int64
    throw decode_error("invalid_request", name(key) + " is out of the integer range");
  throw decode_error("invalid_request", name(key) + " must be an integer, not " +
                                            (v->is_double() ? std::string{"a fraction or exponent"} : kind_name(*v)));
}

std::int64_t fields::required_integer(std::string_view key) {
  auto i = integer(key);
  if (!i)
    throw decode_error("invalid_request", name(key) + " is required");
  return *i;
}

std::optional<double> fields::number(std::string_view key) {
  const auto* v = find(key);
  if (!v)
    return std::nullopt;
  if (!v->is_number())
    throw decode_error("invalid_request", name(key) + " must be a number, not " + kind_name(*v));
  return v->to_number<double>();  // finite: parse_strict refuses the others
}

std::optional<std::vector<std::string>> fields::strings(std::string_view key) {
  const auto* v = find(key);
  if (!v)
    return std::nullopt;
  if (!v->is_array())
    throw decode_error("invalid_request", name(key) + " must be an array of strings, not " + kind_name(*v));
  std::vector<std::string> out;
  for (const auto& item : v->get_array()) {
    if (!item.is_string())
      throw decode_error("invalid_request", name(key) + " must hold strings only, not " + kind_name(item));
    out.emplace_back(item.get_string().data(), item.get_string().size());
  }
  return out;
}

void fields::done() const {
  for (const auto& kv : obj_) {
    const std::string_view k{kv.key().data(), kv.key().size()};
    if (std::find(asked_.begin(), asked_.end(), k) == asked_.end())
      throw decode_error("invalid_request", "unknown field " + name(k));
  }
}

}  // namespace agentreg::http
