#include "server/dashboard.hpp"

#include <string>

namespace agentreg::http {

void add_dashboard_routes(router& table) {
  for (const auto& a : dashboard_assets()) {
    table.add({method::get, a.path, scope::open,
               [&a](const request&, responder respond) {
                 response r;
                 r.content_type = std::string{a.content_type} + "; charset=utf-8";  // every file is UTF-8 text
                 r.body.assign(reinterpret_cast<const char*>(a.data), a.size);
                 // Scripts only from here, and the API only here: the token
                 // the page holds cannot be sent anywhere else.
                 r.headers.emplace_back("Content-Security-Policy",
                                        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                        "frame-ancestors 'none'");
                 r.headers.emplace_back("X-Content-Type-Options", "nosniff");
                 r.headers.emplace_back("Cache-Control", "no-cache");
                 respond(std::move(r));
               },
               std::string{"The dashboard: "} + a.path, {200}, false, false, engine_use::none});
  }
}

}  // namespace agentreg::http
