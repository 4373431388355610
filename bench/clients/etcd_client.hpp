#pragma once
// etcd v3 through its HTTP/JSON gateway (/v3/kv/range, /v3/kv/put,
// /v3/kv/txn; keys and values base64, int64 fields as strings), on one
// keep-alive connection: the etcd baseline of agentreg-bench pick. Debian
// ships no etcd C++ client; the gateway is what a non-Go service uses.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/clients/http_client.hpp"

namespace agentreg::bench {

std::string base64_encode(const std::string& in);
/// Throws std::invalid_argument on a character outside the alphabet.
std::string base64_decode(const std::string& in);

/// Not thread-safe: one per client thread.
class etcd_client {
 public:
  struct kv {
    std::string key, value;
    std::int64_t mod_revision = 0;
  };

  /// What a compare-and-put answered.
  struct cas_result {
    bool succeeded = false;
    std::int64_t revision = 0;  ///< the store's revision after it (the key's mod_revision on success)
    std::optional<kv> current;  ///< on failure: the key as it is now (nullopt if gone)
  };

  /// `url`: http://host:port of a client URL. Throws when it cannot connect.
  explicit etcd_client(const std::string& url);

  /// Every key under `prefix`, or with `limit` > 0 the first `limit` of
  /// them ordered by value ascending (bytes), as the server sorts them.
  std::vector<kv> range_prefix(const std::string& prefix, int limit = 0, bool by_value = false);
  void put(const std::string& key, const std::string& value);
  /// One transaction: if the key's mod_revision is still `mod_revision`,
  /// put `value`; otherwise read the key.
  cas_result put_if_unchanged(const std::string& key, const std::string& value, std::int64_t mod_revision);
  /// Deletes every key under `prefix`.
  void delete_prefix(const std::string& prefix);
  /// The server's version (GET /version: "etcdserver").
  std::string server_version();

 private:
  std::string call(const std::string& target, const std::string& body);
  http_client http_;
};

}  // namespace agentreg::bench
