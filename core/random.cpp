#include "core/random.hpp"

#include <pthread.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace agentreg::core {

namespace {

// ---- the operating system's source ------------------------------------------------

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

// ---- the per-thread buffer ----------------------------------------------------------
//
// Why not getrandom(2) alone: on the project's virtual machines the kernel
// gives 1.5 to 6 ns per byte (12 to 50 ns per 64-bit draw, measured by
// `agentreg-bench index`), a quarter of the index's whole acquire+release.
// So each thread expands OS bytes with AES-128 in counter mode, the
// "fast-key-erasure" generator of Bernstein (2017), as arc4random and
// Rust's ThreadRng (ChaCha, reseeded from the OS every 64 KiB) do: every
// refill encrypts counters 0..256 under the current key, the first block
// becomes the next key (so the state never lets an attacker reconstruct
// values handed out before), the other 256 blocks are the 4 KiB handed out.
// The key comes from getrandom(2) at the thread's first draw and again every
// 64 refills (256 KiB), so a state that leaked heals within that.
// Without AES-NI the buffer is filled by getrandom(2) directly.

constexpr std::size_t buffer_words = 512;  // 4 KiB: one refill per 512 draws
constexpr unsigned refills_per_seed = 64;

// Trivially constructible, so the thread_local needs no guard or
// constructor call on first use; `next == buffer_words` means empty, and
// `refills == 0` means the key must be drawn from the OS first.
struct random_buffer {
  std::uint64_t words[buffer_words];
  std::size_t next = buffer_words;
  unsigned refills = 0;  // since the key was last drawn from the OS
  alignas(16) unsigned char key[16];
};

thread_local random_buffer buffer;

// In the child of a fork only the forking thread lives on, with a copy of
// its parent's buffer and key: drop both, or both would hand out the same
// values.
[[maybe_unused]] const int fork_handler_installed = pthread_atfork(nullptr, nullptr, [] {
  buffer.next = buffer_words;
  buffer.refills = 0;
});

#if defined(__x86_64__)

#define AGENTREG_AES __attribute__((target("aes,sse4.1")))

template <int round_constant>
AGENTREG_AES __m128i expand_key_step(__m128i key) {
  __m128i gen = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(key, round_constant), 0xff);
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  return _mm_xor_si128(key, gen);
}

struct aes128 {
  __m128i round_keys[11];

  AGENTREG_AES explicit aes128(const unsigned char* key) {
    round_keys[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
    round_keys[1] = expand_key_step<0x01>(round_keys[0]);
    round_keys[2] = expand_key_step<0x02>(round_keys[1]);
    round_keys[3] = expand_key_step<0x04>(round_keys[2]);
    round_keys[4] = expand_key_step<0x08>(round_keys[3]);
    round_keys[5] = expand_key_step<0x10>(round_keys[4]);
    round_keys[6] = expand_key_step<0x20>(round_keys[5]);
    round_keys[7] = expand_key_step<0x40>(round_keys[6]);
    round_keys[8] = expand_key_step<0x80>(round_keys[7]);
    round_keys[9] = expand_key_step<0x1b>(round_keys[8]);
    round_keys[10] = expand_key_step<0x36>(round_keys[9]);
  }
  AGENTREG_AES ~aes128() {
    for (auto& k : round_keys)  // the key schedule is the key: erase it
      k = _mm_setzero_si128();
    __asm__ __volatile__("" : : "r"(round_keys) : "memory");  // keep the stores
  }

  // Encrypts the 8 blocks of counters first .. first + 7, interleaved so
  // that the AES unit's pipeline stays full.
  AGENTREG_AES void encrypt_counters(std::uint64_t first, __m128i* out) const {
    // Unrolled, so that the 8 blocks live in registers (GCC at -O2 keeps
    // the array on the stack otherwise: 5 times the instructions).
    __m128i x[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i)
      x[i] = _mm_xor_si128(_mm_set_epi64x(0, static_cast<long long>(first + i)), round_keys[0]);
#pragma GCC unroll 9
    for (int r = 1; r < 10; ++r)
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i)
        x[i] = _mm_aesenc_si128(x[i], round_keys[r]);
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i)
      _mm_storeu_si128(out + i, _mm_aesenclast_si128(x[i], round_keys[10]));
  }
};

// FIPS-197 appendix C.1, checked once per process before the first use:
// a wrong AES would hand out predictable ids, so it stops the process.
AGENTREG_AES bool aes_passes_known_answer() {
  const unsigned char key[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
  const unsigned char plain[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                   0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
  const unsigned char cipher[16] = {0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30,
                                    0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a};
  const aes128 aes{key};
  __m128i x = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(plain)), aes.round_keys[0]);
  for (int r = 1; r < 10; ++r)
    x = _mm_aesenc_si128(x, aes.round_keys[r]);
  x = _mm_aesenclast_si128(x, aes.round_keys[10]);
  unsigned char out[16];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), x);
  return std::memcmp(out, cipher, sizeof out) == 0;
}

bool use_aes() {
  // A function-local static: initialised once, thread-safely.
  static const bool usable = [] {
    __builtin_cpu_init();  // in case the first draw runs before static constructors
    if (!__builtin_cpu_supports("aes") || !__builtin_cpu_supports("sse4.1"))
      return false;
    if (!aes_passes_known_answer()) {
      std::fprintf(stderr, "agentreg: AES-128 fails its FIPS-197 known answer: refusing to make ids\n");
      std::abort();
    }
    return true;
  }();
  return usable;
}

AGENTREG_AES void refill_with_aes(random_buffer& b) {
  if (b.refills == 0)
    fill_from_kernel(b.key, sizeof b.key);
  b.refills = (b.refills + 1) % refills_per_seed;
  const aes128 aes{b.key};
  alignas(16) __m128i first[8];
  aes.encrypt_counters(0, first);
  std::memcpy(b.key, &first[0], sizeof b.key);  // the next key; this one is gone with `aes`
  auto* out = reinterpret_cast<__m128i*>(b.words);
  constexpr std::size_t blocks = buffer_words / 2;  // 256 blocks of 16 bytes handed out
  std::memcpy(out, &first[1], 7 * sizeof(__m128i));
  std::size_t filled = 7;
  std::uint64_t counter = 8;
  for (; filled + 8 <= blocks; filled += 8, counter += 8)
    aes.encrypt_counters(counter, out + filled);
  aes.encrypt_counters(counter, first);  // the last block: 256 = 7 + 8 * 31 + 1
  std::memcpy(out + filled, first, (blocks - filled) * sizeof(__m128i));
  std::memset(first, 0, sizeof first);
  __asm__ __volatile__("" : : "r"(first) : "memory");
}

#endif

void refill(random_buffer& b) {
#if defined(__x86_64__)
  if (use_aes()) {
    refill_with_aes(b);
    return;
  }
#endif
  fill_from_kernel(b.words, sizeof b.words);
}

}  // namespace

std::uint64_t random_u64() {
  random_buffer& b = buffer;
  if (b.next == buffer_words) {
    refill(b);
    b.next = 0;
  }
  const std::uint64_t v = b.words[b.next];
  // Each value is handed out once: overwrite it so that it cannot be read
  // back from this thread's memory after it became someone's id.
  b.words[b.next++] = 0;
  return v;
}

void random_bytes(void* out, std::size_t size) {
  auto* p = static_cast<unsigned char*>(out);
  while (size > 0) {
    const std::uint64_t v = random_u64();
    const std::size_t n = size < sizeof v ? size : sizeof v;
    std::memcpy(p, &v, n);
    p += n;
    size -= n;
  }
}

const char* random_source() {
#if defined(__x86_64__)
  if (use_aes())
    return "AES-128-CTR with fast key erasure, keyed from getrandom(2) every 256 KiB";
#endif
  return "getrandom(2)";
}

}  // namespace agentreg::core
