#include "messages/errors.hpp"

#include <caf/deep_to_string.hpp>
#include <caf/make_message.hpp>

namespace agentreg::msg {

caf::error to_caf(const core::error& e) {
  return caf::error{static_cast<std::uint8_t>(e.code), error_category, caf::make_message(e.message)};
}

core::error from_caf(const caf::error& e) {
  if (e.category() == error_category) {
    std::string text;
    if (e.context().match_elements<std::string>())
      text = e.context().get_as<std::string>(0);
    return {static_cast<core::errc>(e.code()), std::move(text)};
  }
  return {core::errc::internal, caf::to_string(e)};
}

}  // namespace agentreg::msg
