#include <cctype>
#include <stdexcept>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "bench/clients/http_client.hpp"
#include "bench/pick/variants.hpp"

namespace agentreg::bench::pick {

namespace {

namespace json = boost::json;

// Leases over HTTP always expire (docs/api.md); a minute is far longer than
// a pair takes, so none expires during a round.
constexpr int lease_ttl_ms = 60'000;

// Percent-encodes everything but RFC 3986's unreserved characters, so a
// lease id can go into a path whatever its alphabet.
std::string path_segment(const std::string& s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

http_client connect_to(const std::string& url) {
  std::string host;
  std::uint16_t port = 0;
  split_host_port(url, host, port);
  return http_client{host, port};
}

void expect(const http_response& r, unsigned status, const char* what) {
  if (r.status != status)
    throw std::runtime_error{std::string{"agentregd "} + what + ": HTTP " + std::to_string(r.status) + ": " + r.body};
}

class http_pick_client final : public client {
 public:
  explicit http_pick_client(const std::string& url) : http_(connect_to(url)) {}

  std::optional<std::uint32_t> acquire() override {
    static const std::string body =
        json::serialize(json::object{{"agent_type", agent_type}, {"ttl_ms", lease_ttl_ms}});
    const auto r = http_.post("/v1/leases", body);
    if (r.status != 201)
      return std::nullopt;
    const auto o = json::parse(r.body).as_object();
    lease_id_ = std::string{o.at("lease_id").as_string()};
    return index_of(std::string{o.at("agent_id").as_string()});
  }

  void release(std::uint32_t) override { expect(http_.del("/v1/leases/" + path_segment(lease_id_)), 204, "release"); }

 private:
  http_client http_;
  std::string lease_id_;
};

class agentreg_http_variant final : public variant {
 public:
  explicit agentreg_http_variant(std::string url) : url_(std::move(url)), admin_(connect_to(url_)) {
    for (std::uint32_t i = 0; i < agent_count; ++i) {
      const json::object spec{{"agent_id", agent_id(i)},
                              {"agent_type", agent_type},
                              {"llm_provider", "bench"},
                              {"model_name", "bench-model"},
                              {"max_capacity", capacity_of(i)}};
      expect(admin_.post("/v1/agents", json::serialize(spec)), 200, "register");
    }
    reset();
  }

  [[nodiscard]] std::string key() const override { return "agentreg_http"; }
  [[nodiscard]] std::string description() const override {
    return "agentreg over HTTP (agentregd): POST /v1/leases + DELETE";
  }
  std::unique_ptr<client> connect() override { return std::make_unique<http_pick_client>(url_); }

  std::int64_t total_load() override {
    std::int64_t sum = 0;
    std::string cursor;
    for (;;) {
      const auto r = admin_.get("/v1/agents?agent_type=" + std::string{agent_type} + "&limit=1000" +
                                (cursor.empty() ? "" : "&cursor=" + path_segment(cursor)));
      expect(r, 200, "list agents");
      const auto o = json::parse(r.body).as_object();
      for (const auto& a : o.at("agents").as_array())
        sum += a.as_object().at("current_load").to_number<std::int64_t>();
      const auto& next = o.at("next_cursor");
      if (!next.is_string())
        return sum;
      cursor = std::string{next.as_string()};
    }
  }

  void reset() override {
    for (std::uint32_t i = 0; i < agent_count; ++i)
      expect(admin_.put("/v1/agents/" + agent_id(i) + "/load",
                        json::serialize(json::object{{"current_load", preload_of(i)}})),
             200, "set load");
  }

 private:
  std::string url_;
  http_client admin_;
};

}  // namespace

std::unique_ptr<variant> make_agentreg_http_variant(const std::string& url) {
  return std::make_unique<agentreg_http_variant>(url);
}

}  // namespace agentreg::bench::pick
