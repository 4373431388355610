#include "bench/clients/etcd_client.hpp"

#include <array>
#include <cstdlib>
#include <stdexcept>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace agentreg::bench {

namespace json = boost::json;

namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

http_client connect_to(const std::string& url) {
  std::string host;
  std::uint16_t port = 0;
  split_host_port(url, host, port);
  return http_client{host, port};
}

// The end of the range of every key starting with `prefix`: the prefix with
// its last byte incremented (etcd's own "prefix" option does this).
std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<unsigned char>(prefix.back()) < 0xff) {
      prefix.back() = static_cast<char>(prefix.back() + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');
}

// int64 fields come as JSON strings; absent means 0 (proto3 omits defaults).
std::int64_t int_field(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  if (v == nullptr)
    return 0;
  if (v->is_string())
    return std::strtoll(v->as_string().c_str(), nullptr, 10);
  return v->to_number<std::int64_t>();
}

std::string string_field(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string{v->as_string()} : std::string{};
}

etcd_client::kv kv_of(const json::object& o) {
  return {base64_decode(string_field(o, "key")), base64_decode(string_field(o, "value")),
          int_field(o, "mod_revision")};
}

std::vector<etcd_client::kv> kvs_of(const json::object& o) {
  std::vector<etcd_client::kv> out;
  if (const auto* kvs = o.if_contains("kvs"))
    for (const auto& item : kvs->as_array())
      out.push_back(kv_of(item.as_object()));
  return out;
}

}  // namespace

std::string base64_encode(const std::string& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                   static_cast<unsigned char>(in[i + 2]);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  if (i + 1 == in.size()) {
    const auto n = static_cast<unsigned char>(in[i]) << 16;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const auto n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string base64_decode(const std::string& in) {
  static const std::array<int, 256> value = [] {
    std::array<int, 256> v{};
    v.fill(-1);
    for (int i = 0; i < 64; ++i)
      v[static_cast<unsigned char>(alphabet[i])] = i;
    return v;
  }();
  std::string out;
  out.reserve(in.size() / 4 * 3);
  unsigned bits = 0;
  int count = 0;
  for (const char c : in) {
    if (c == '=')
      break;
    const int v = value[static_cast<unsigned char>(c)];
    if (v < 0)
      throw std::invalid_argument{"base64: bad character"};
    bits = (bits << 6) | static_cast<unsigned>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

etcd_client::etcd_client(const std::string& url) : http_(connect_to(url)) {}

std::string etcd_client::call(const std::string& target, const std::string& body) {
  auto r = http_.post(target, body);
  if (r.status != 200)
    throw std::runtime_error{"etcd " + target + ": HTTP " + std::to_string(r.status) + ": " + r.body};
  return std::move(r.body);
}

std::vector<etcd_client::kv> etcd_client::range_prefix(const std::string& prefix, int limit, bool by_value) {
  json::object req{{"key", base64_encode(prefix)}, {"range_end", base64_encode(prefix_end(prefix))}};
  if (limit > 0)
    req["limit"] = limit;
  if (by_value) {
    req["sort_order"] = "ASCEND";
    req["sort_target"] = "VALUE";
  }
  return kvs_of(json::parse(call("/v3/kv/range", json::serialize(req))).as_object());
}

void etcd_client::put(const std::string& key, const std::string& value) {
  call("/v3/kv/put", json::serialize(json::object{{"key", base64_encode(key)}, {"value", base64_encode(value)}}));
}

etcd_client::cas_result etcd_client::put_if_unchanged(const std::string& key, const std::string& value,
                                                      std::int64_t mod_revision) {
  const std::string k = base64_encode(key);
  const json::object req{
      {"compare", json::array{json::object{{"result", "EQUAL"},
                                           {"target", "MOD"},
                                           {"key", k},
                                           {"mod_revision", std::to_string(mod_revision)}}}},
      {"success", json::array{json::object{{"request_put", json::object{{"key", k}, {"value", base64_encode(value)}}}}}},
      {"failure", json::array{json::object{{"request_range", json::object{{"key", k}}}}}}};
  const auto answer = json::parse(call("/v3/kv/txn", json::serialize(req))).as_object();
  cas_result r;
  if (const auto* s = answer.if_contains("succeeded"))
    r.succeeded = s->as_bool();
  if (const auto* h = answer.if_contains("header"))
    r.revision = int_field(h->as_object(), "revision");
  if (!r.succeeded)
    if (const auto* responses = answer.if_contains("responses"))
      for (const auto& item : responses->as_array())
        if (const auto* range = item.as_object().if_contains("response_range")) {
          auto kvs = kvs_of(range->as_object());
          if (!kvs.empty())
            r.current = std::move(kvs.front());
        }
  return r;
}

void etcd_client::delete_prefix(const std::string& prefix) {
  call("/v3/kv/deleterange", json::serialize(json::object{{"key", base64_encode(prefix)},
                                                          {"range_end", base64_encode(prefix_end(prefix))}}));
}

std::string etcd_client::server_version() {
  auto r = http_.get("/version");
  const auto o = json::parse(r.body).as_object();
  return string_field(o, "etcdserver");
}

}  // namespace agentreg::bench
