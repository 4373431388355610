#include "core/random.hpp"

#include <pthread.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace agentreg::core {

namespace {

// 4 KiB: the cost of one getrandom(2) call (a few microseconds for this
// size) is spread over 512 draws, so a draw costs a few ns.
constexpr std::size_t buffer_words = 512;

// Trivially constructible, so the thread_local needs no guard or
// constructor call on first use; `next == buffer_words` means empty.
struct random_buffer {
  std::uint64_t words[buffer_words];
  std::size_t next = buffer_words;
};

thread_local random_buffer buffer;

// In the child of a fork only the forking thread lives on, with a copy of
// its parent's buffer: drop it, or both would hand out the same values.
[[maybe_unused]] const int fork_handler_installed =
    pthread_atfork(nullptr, nullptr, [] { buffer.next = buffer_words; });

void fill_from_kernel(void* out, std::size_t size) {
  auto* p = static_cast<unsigned char*>(out);
  while (size > 0) {
    // flags 0: the urandom source, which blocks only until the kernel's pool
    // is first initialised at boot. A read above 256 bytes may be cut short
    // by a signal: the loop goes on with the rest.
    const ssize_t n = getrandom(p, size, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      std::fprintf(stderr, "agentreg: getrandom(2) failed: %s\n", std::strerror(errno));
      std::abort();
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

}  // namespace

std::uint64_t random_u64() {
  random_buffer& b = buffer;
  if (b.next == buffer_words) {
    fill_from_kernel(b.words, sizeof b.words);
    b.next = 0;
  }
  const std::uint64_t v = b.words[b.next];
  // Each value is handed out once: overwrite it so that it cannot be read
  // back from this thread's memory after it became someone's id.
  b.words[b.next++] = 0;
  return v;
}

void random_bytes(void* out, std::size_t size) {
  if (size >= sizeof(buffer.words)) {
    fill_from_kernel(out, size);
    return;
  }
  auto* p = static_cast<unsigned char*>(out);
  while (size > 0) {
    const std::uint64_t v = random_u64();
    const std::size_t n = size < sizeof v ? size : sizeof v;
    std::memcpy(p, &v, n);
    p += n;
    size -= n;
  }
}

}  // namespace agentreg::core
