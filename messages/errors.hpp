#pragma once

#include <caf/error.hpp>
#include <caf/message.hpp>

#include "core/error.hpp"

namespace agentreg::msg {

/// The CAF error category of agentreg's one error enum (core::errc).
constexpr caf::atom_value error_category = caf::atom("agentreg");

/// A core::error as a caf::error (code, category "agentreg", message text).
caf::error to_caf(const core::error& e);
inline caf::error to_caf(core::errc code, std::string message) { return to_caf(core::error{code, std::move(message)}); }

/// A caf::error as a core::error; errors of other categories become
/// errc::internal with CAF's rendering of them.
core::error from_caf(const caf::error& e);

}  // namespace agentreg::msg
