#pragma once
// Waiting for a condition in tests that watch threads or actors.

#include <chrono>
#include <thread>

namespace agentreg::test {

/// Waits until `done()` holds, checking every 2 ms, for at most `deadline`
/// (generous: the machine is shared); answers whether it held.
template <class Pred>
bool eventually(Pred done, std::chrono::seconds deadline = std::chrono::seconds{60}) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
  return true;
}

}  // namespace agentreg::test
