#include "server/router.hpp"

#include <stdexcept>

namespace agentreg::http {

const char* to_string(method m) {
  switch (m) {
    case method::get: return "GET";
    case method::post: return "POST";
    case method::put: return "PUT";
    case method::del: return "DELETE";
  }
  return "?";
}

namespace {

std::vector<std::string_view> split_path(std::string_view p) {
  std::vector<std::string_view> out;
  if (p.empty() || p.front() != '/')
    return out;
  p.remove_prefix(1);
  for (;;) {
    const auto slash = p.find('/');
    out.push_back(p.substr(0, slash));
    if (slash == std::string_view::npos)
      break;
    p.remove_prefix(slash + 1);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size())
        return std::nullopt;
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!q.empty()) {
    const auto amp = q.find('&');
    const auto part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty())
      continue;
    const auto eq = part.find('=');
    auto name = percent_decode(part.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1), true);
    if (!name || !value)
      return std::nullopt;
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

void router::add(route r) {
  for (const auto& existing : routes_)
    if (existing.verb == r.verb && existing.pattern == r.pattern)
      throw std::logic_error("route added twice: " + std::string{to_string(r.verb)} + " " + r.pattern);
  compiled c;
  for (auto seg : split_path(r.pattern)) {
    const bool param = seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
    c.segments.emplace_back(param ? std::string_view{} : seg);
    c.parameter.push_back(param);
    c.literals += param ? 0 : 1;
  }
  routes_.push_back(std::move(r));
  compiled_.push_back(std::move(c));
}

router::match router::find(method m, std::string_view raw_path) const {
  match out;
  const auto segments = split_path(raw_path);
  // The most specific pattern matching the path, then its methods.
  const compiled* best = nullptr;
  const std::string* best_pattern = nullptr;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const auto& c = compiled_[i];
    if (c.segments.size() != segments.size())
      continue;
    bool ok = true;
    for (std::size_t s = 0; s < segments.size() && ok; ++s)
      ok = c.parameter[s] ? !segments[s].empty() : c.segments[s] == segments[s];
    if (ok && (!best || c.literals > best->literals)) {
      best = &c;
      best_pattern = &routes_[i].pattern;
    }
  }
  if (!best)
    return out;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].pattern != *best_pattern)
      continue;
    if (routes_[i].verb == m)
      out.found = &routes_[i];
    else
      out.allowed.push_back(routes_[i].verb);
  }
  if (!out.found)
    return out;
  for (std::size_t s = 0; s < segments.size(); ++s)
    if (best->parameter[s]) {
      auto decoded = percent_decode(segments[s], false);
      if (!decoded) {
        out.found = nullptr;
        out.bad_encoding = true;
        return out;
      }
      out.params.push_back(std::move(*decoded));
    }
  return out;
}

}  // namespace agentreg::http
