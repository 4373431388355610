#pragma once

#include <cstddef>
#include <cstdint>

namespace agentreg::core {

/// 64 bits from the operating system's random source (getrandom(2)), for ids
/// that travel (lease secrets, execution ids) and must not be guessable.
///
/// Thread-safe: each thread draws from its own buffer of 4 KiB, refilled
/// from the kernel when empty, so a call costs a few nanoseconds and one
/// system call in 512. No state is shared between threads. The child of a
/// `fork()` drops the buffer it inherited (a `pthread_atfork` handler), so
/// parent and child never hand out the same values. A kernel that cannot
/// give random bytes is a fatal error (the process aborts with a message):
/// there is no weaker fallback.
std::uint64_t random_u64();

/// Fills `size` bytes at `out` from the same source. Thread-safe.
void random_bytes(void* out, std::size_t size);

}  // namespace agentreg::core
