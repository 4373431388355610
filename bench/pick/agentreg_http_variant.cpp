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

// `pipelined`: as the Redis variant's release, the DELETE is not waited for
// but goes out in the same write as the next POST (HTTP/1.1 pipelining,
// which agentregd serves in order), and both answers come back in one
// read. Without it, each request waits for its answer, as most HTTP
// client libraries do.
class http_pick_client final : public client {
 public:
  http_pick_client(const std::string& url, bool pipelined) : http_(connect_to(url)), pipelined_(pipelined) {}

  std::optional<std::uint32_t> acquire() override {
    static const std::string body =
        json::serialize(json::object{{"agent_type", agent_type}, {"ttl_ms", lease_ttl_ms}});
    const auto r = http_.post("/v1/leases", body);
    check_pipelined();
    if (r.status != 201)
      return std::nullopt;
    const auto o = json::parse(r.body).as_object();
    lease_id_ = std::string{o.at("lease_id").as_string()};
    return index_of(std::string{o.at("agent_id").as_string()});
  }

  void release(std::uint32_t) override {
    const std::string target = "/v1/leases/" + path_segment(lease_id_);
    if (pipelined_)
      http_.del_pipelined(target);
    else
      expect(http_.del(target), 204, "release");
  }

  void finish() override {
    http_.finish_pipelined();
    check_pipelined();
  }

 private:
  void check_pipelined() {
    for (const auto& r : http_.take_pipelined())
      expect(r, 204, "release (pipelined)");
  }

  http_client http_;
  bool pipelined_;
  std::string lease_id_;
};

class agentreg_http_variant final : public variant {
 public:
  agentreg_http_variant(std::string url, bool pipelined)
      : url_(std::move(url)), pipelined_(pipelined), admin_(connect_to(url_)) {
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

  [[nodiscard]] std::string key() const override {
    return pipelined_ ? "agentreg_http_pipelined" : "agentreg_http";
  }
  [[nodiscard]] std::string description() const override {
    return pipelined_ ? "agentreg over HTTP (agentregd): POST /v1/leases, DELETE pipelined with the next POST"
                      : "agentreg over HTTP (agentregd): POST /v1/leases + DELETE, each answer awaited";
  }
  std::unique_ptr<client> connect() override { return std::make_unique<http_pick_client>(url_, pipelined_); }

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
  bool pipelined_;
  http_client admin_;
};

}  // namespace

std::unique_ptr<variant> make_agentreg_http_variant(const std::string& url, bool pipelined) {
  return std::make_unique<agentreg_http_variant>(url, pipelined);
}

}  // namespace agentreg::bench::pick
