#pragma once

#include <cstddef>
#include <cstdint>

namespace agentreg::core {

/// 64 unpredictable bits from the operating system's random source, for ids
/// that travel (lease secrets, execution ids) and must not be guessable.
///
/// Thread-safe: each thread draws from its own buffer of 4 KiB, refilled
/// when empty, so a call costs a few nanoseconds. With AES-NI the buffer is
/// the output of AES-128 in counter mode under a key taken from getrandom(2)
/// and replaced at every refill (fast key erasure: values handed out cannot
/// be recomputed from the state), with a fresh OS key every 256 KiB; without
/// AES-NI it is getrandom(2) output itself (see random.cpp for the costs
/// that decided this). No state is shared between threads. The child of a
/// `fork()` drops the buffer it inherited (a `pthread_atfork` handler), so
/// parent and child never hand out the same values. A kernel that cannot
/// give random bytes is a fatal error (the process aborts with a message):
/// there is no weaker fallback.
std::uint64_t random_u64();

/// Fills `size` bytes at `out` from the same source. Thread-safe.
void random_bytes(void* out, std::size_t size);

/// What random_u64 draws from on this machine, in words (for benchmarks and
/// diagnostics). Thread-safe.
const char* random_source();

}  // namespace agentreg::core
