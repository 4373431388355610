#include "bench/clients/redis_client.hpp"

#include <stdexcept>

#include <hiredis/hiredis.h>

namespace agentreg::bench {

namespace {

redis_reply convert(const redisReply* r) {
  redis_reply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = redis_reply::kind::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = redis_reply::kind::string;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = redis_reply::kind::status;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = redis_reply::kind::error;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = redis_reply::kind::array;
      for (std::size_t i = 0; i < r->elements; ++i)
        out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = redis_reply::kind::nil;
  }
  return out;
}

}  // namespace

struct redis_client::impl {
  redisContext* context = nullptr;
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;

  void prepare(const std::vector<std::string>& args) {
    argv.clear();
    lengths.clear();
    for (const auto& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
  }

  [[noreturn]] void fail(const char* what) const {
    throw std::runtime_error{std::string{"redis "} + what + ": " +
                             (context != nullptr ? context->errstr : "no context")};
  }
};

redis_client::redis_client(const std::string& host, std::uint16_t port) : impl_(std::make_unique<impl>()) {
  impl_->context = redisConnect(host.c_str(), port);
  if (impl_->context == nullptr || impl_->context->err != 0) {
    const std::string why = impl_->context != nullptr ? impl_->context->errstr : "out of memory";
    if (impl_->context != nullptr)
      redisFree(impl_->context);
    impl_->context = nullptr;
    throw std::runtime_error{"redis connect " + host + ":" + std::to_string(port) + ": " + why};
  }
}

redis_client::~redis_client() {
  if (impl_->context != nullptr)
    redisFree(impl_->context);
}

redis_reply redis_client::command(const std::vector<std::string>& args) {
  append(args);
  return reply();
}

void redis_client::append(const std::vector<std::string>& args) {
  impl_->prepare(args);
  if (redisAppendCommandArgv(impl_->context, static_cast<int>(args.size()), impl_->argv.data(),
                             impl_->lengths.data()) != REDIS_OK)
    impl_->fail("append");
}

redis_reply redis_client::reply() {
  void* raw = nullptr;
  if (redisGetReply(impl_->context, &raw) != REDIS_OK || raw == nullptr)
    impl_->fail("read");
  auto* r = static_cast<redisReply*>(raw);
  redis_reply out = convert(r);
  freeReplyObject(r);
  return out;
}

}  // namespace agentreg::bench
