#include "index/priority_index.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <functional>
#include <new>
#include <stdexcept>
#include <utility>

#include "index/rank.hpp"
#include "index/stripe.hpp"

namespace agentreg::index {

const char* to_string(errc e) {
  switch (e) {
    case errc::ok: return "ok";
    case errc::no_capacity: return "no_capacity";
    case errc::unknown_type: return "unknown_type";
    case errc::unknown_agent: return "unknown_agent";
    case errc::invalid_capacity: return "invalid_capacity";
    case errc::capacity_below_load: return "capacity_below_load";
    case errc::load_out_of_range: return "load_out_of_range";
    case errc::invalid_status: return "invalid_status";
    case errc::lease_not_held: return "lease_not_held";
    case errc::too_many_agents: return "too_many_agents";
    case errc::too_many_types: return "too_many_types";
    case errc::too_many_leases: return "too_many_leases";
    case errc::agent_has_leases: return "agent_has_leases";
  }
  return "unknown";
}

const char* to_string(agent_status s) {
  switch (s) {
    case agent_status::online: return "online";
    case agent_status::offline: return "offline";
    case agent_status::paused: return "paused";
    case agent_status::busy: return "busy";
  }
  return "unknown";
}

namespace {

// ---- the agent word ---------------------------------------------------------
// bits  0-11 leased   12-23 reported   24-35 capacity   36-37 status
// bit  38 vacant      39-63 generation (25 bits)
constexpr std::uint64_t field_mask = 0xfff;
constexpr int reported_shift = 12, capacity_shift = 24, status_shift = 36;
constexpr std::uint64_t vacant_bit = std::uint64_t{1} << 38;
constexpr int generation_shift = 39;
constexpr std::uint32_t generation_mask = (1u << 25) - 1;
constexpr std::uint32_t rank_count = 1u << 16;
constexpr std::uint32_t no_rank = rank_count;

struct word_fields {
  std::uint32_t leased, reported, capacity, generation;
  agent_status status;
  bool vacant;
};

constexpr word_fields decode(std::uint64_t w) {
  return {static_cast<std::uint32_t>(w & field_mask),
          static_cast<std::uint32_t>((w >> reported_shift) & field_mask),
          static_cast<std::uint32_t>((w >> capacity_shift) & field_mask),
          static_cast<std::uint32_t>(w >> generation_shift),
          static_cast<agent_status>((w >> status_shift) & 3), (w & vacant_bit) != 0};
}

constexpr std::uint64_t encode(const word_fields& f) {
  return std::uint64_t{f.leased} | std::uint64_t{f.reported} << reported_shift |
         std::uint64_t{f.capacity} << capacity_shift |
         std::uint64_t{static_cast<std::uint8_t>(f.status)} << status_shift |
         (f.vacant ? vacant_bit : 0) |
         std::uint64_t{f.generation & generation_mask} << generation_shift;
}

// The bucket an agent sits in, or no_rank when it is not eligible.
constexpr std::uint32_t rank_of(std::uint64_t w) {
  const auto f = decode(w);
  const std::uint32_t load = f.leased + f.reported;
  if (f.vacant || f.status != agent_status::online || load >= f.capacity)
    return no_rank;
  return detail::load_rank(load, f.capacity);
}

constexpr bool matches(std::uint64_t w, std::uint32_t generation) {
  return (w & vacant_bit) == 0 && (w >> generation_shift) == (generation & generation_mask);
}
constexpr bool matches(std::uint64_t w, const agent_ref& ref) { return matches(w, ref.generation); }

agent_status shown_status(const word_fields& f) {
  if (f.status == agent_status::online && f.leased + f.reported >= f.capacity)
    return agent_status::busy;
  return f.status;
}

// ---- a Treiber stack of indices with an ABA tag -------------------------------
// head = [tag:32][index + 1:32]; index + 1 == 0 means empty.
constexpr std::uint64_t pack_head(std::uint32_t tag, std::uint32_t index_plus_one) {
  return std::uint64_t{tag} << 32 | index_plus_one;
}

constexpr std::uint32_t chunk_size = 4096;

template <class Node>
struct chunked_array {
  explicit chunked_array(std::uint32_t max) : chunks(max / chunk_size), table(new std::atomic<Node*>[chunks]) {
    for (std::uint32_t c = 0; c < chunks; ++c)
      table[c].store(nullptr, std::memory_order_relaxed);
  }
  ~chunked_array() {
    for (std::uint32_t c = 0; c < chunks; ++c)
      delete[] table[c].load(std::memory_order_relaxed);
  }
  Node& at(std::uint32_t i) const {
    // acquire: pairs with the release CAS in make(); i is below a high-water
    // mark that was raised after the chunk was made.
    return table[i / chunk_size].load(std::memory_order_acquire)[i % chunk_size];
  }
  // The node of index i, or nullptr while its chunk was never made.
  Node* find(std::uint32_t i) const {
    // seq_cst, with make()'s CAS: a finder that saw no chunk is ordered
    // before its maker (labels: see clear_label).
    Node* chunk = table[i / chunk_size].load(std::memory_order_seq_cst);
    return chunk == nullptr ? nullptr : &chunk[i % chunk_size];
  }
  Node& make(std::uint32_t i) {
    auto& cell = table[i / chunk_size];
    Node* chunk = cell.load(std::memory_order_acquire);
    if (chunk == nullptr) {
      auto* fresh = new Node[chunk_size];
      // seq_cst: publishes the chunk (release), and see find().
      if (cell.compare_exchange_strong(chunk, fresh, std::memory_order_seq_cst))
        chunk = fresh;
      else
        delete[] fresh;  // another thread made it; `chunk` holds theirs
    }
    return chunk[i % chunk_size];
  }
  std::size_t memory_bytes() const {
    std::size_t bytes = chunks * sizeof(std::atomic<Node*>);
    for (std::uint32_t c = 0; c < chunks; ++c)
      if (table[c].load(std::memory_order_acquire) != nullptr)
        bytes += chunk_size * sizeof(Node);
    return bytes;
  }
  std::uint32_t chunks;
  std::unique_ptr<std::atomic<Node*>[]> table;
};

constexpr std::uint32_t no_index = ~std::uint32_t{0};

// Pops an index from a Treiber stack; no_index when it is empty.
template <class Array>
std::uint32_t pop_free(std::atomic<std::uint64_t>& head, Array& nodes) {
  // acquire: pairs with the release CAS in push_free, so the popped node's
  // next_free (and its fields) written before the push are visible.
  std::uint64_t h = head.load(std::memory_order_acquire);
  while ((h & 0xffffffffu) != 0) {
    const std::uint32_t index = static_cast<std::uint32_t>(h) - 1;
    const std::uint32_t next = nodes.at(index).next_free.load(std::memory_order_relaxed);
    if (head.compare_exchange_weak(h, pack_head(static_cast<std::uint32_t>(h >> 32) + 1, next),
                                   std::memory_order_acquire, std::memory_order_acquire))
      return index;
  }
  return no_index;
}

// A fresh index below `max`, raising the high-water mark; max when all are taken.
template <class Array>
std::uint32_t grow(std::atomic<std::uint32_t>& high_water, Array& nodes, std::uint32_t max) {
  // Allocate first, publish second: the chunk of index n exists before the
  // high-water mark passes n, so every reader that bounds an index by the
  // mark (scan, reclaim_expired, leases_held, release, modify) finds its
  // chunk. A chunk made for an n that another thread then took is the one
  // that thread needed anyway.
  std::uint32_t n = high_water.load(std::memory_order_relaxed);
  for (;;) {
    if (n >= max)
      return max;
    nodes.make(n);
    // release: publishes the chunk made above (and its constructed nodes)
    // to the readers' acquire loads of the mark.
    if (high_water.compare_exchange_weak(n, n + 1, std::memory_order_release, std::memory_order_relaxed))
      return n;
  }
}

template <class Array>
void push_free(std::atomic<std::uint64_t>& head, Array& nodes, std::uint32_t index) {
  std::uint64_t h = head.load(std::memory_order_relaxed);
  do {
    nodes.at(index).next_free.store(static_cast<std::uint32_t>(h), std::memory_order_relaxed);
    // release: publishes next_free and the node's fields to the popper.
  } while (!head.compare_exchange_weak(h, pack_head(static_cast<std::uint32_t>(h >> 32) + 1, index + 1),
                                       std::memory_order_release, std::memory_order_relaxed));
}

struct slot {
  std::atomic<std::uint64_t> word{vacant_bit};
  std::atomic<std::uint64_t> tag{0};
  std::atomic<std::int64_t> stamp{0};
  std::atomic<std::uint32_t> next_free{0};
};

// The view of agent {pool, s, generation} from its slot, whose word read
// `w` (acquire) and matched it, into `out`: the tag and stamp are read
// after, then the word again; false when the agent left the slot
// meanwhile. Scalars in, fields out one by one: GCC built an agent_ref
// argument from two 32-bit stores and read it back as one 64-bit load (a
// failed store forwarding), and that alone made the sweep's scan of 1 M
// slots x5 slower.
bool view_of(const slot& sl, std::uint32_t pool, std::uint32_t s, std::uint32_t generation, std::uint64_t w,
             agent_view& out) {
  const auto f = decode(w);
  out.tag = sl.tag.load(std::memory_order_relaxed);
  out.stamp = sl.stamp.load(std::memory_order_relaxed);
  // acquire: a tag stored by a later place() (the slot reused since the
  // word was read) brings its fence, and the vacating before it: the word
  // then no longer matches, and no view carries another agent's tag.
  std::atomic_thread_fence(std::memory_order_acquire);
  if (!matches(sl.word.load(std::memory_order_relaxed), generation))
    return false;
  out.ref.pool = pool;
  out.ref.slot = s;
  out.ref.generation = generation;
  out.capacity = f.capacity;
  out.leased = f.leased;
  out.reported = f.reported;
  out.status = shown_status(f);
  return true;
}

// ---- lease records -------------------------------------------------------------
// state = [sequence:62][phase:2]. The phase says who may touch the record's
// fields: nobody but its allocator while free, nobody while held (they are
// read only), the one renewer while renewing. The sequence advances at every
// free and every renewal, so a CAS from a state read earlier fails once the
// record moved on: it guards the CASes against ABA and names nothing outside,
// so it may wrap (modulo 2^62, which adding 4 to the word does by itself).
// A lease is named by its record and proven by its token, all 64 bits of
// which the record compares.
constexpr std::uint64_t phase_mask = 3;
constexpr std::uint64_t phase_free = 0, phase_held = 1, phase_renewing = 2;

constexpr std::uint64_t phase_of(std::uint64_t state) { return state & phase_mask; }
constexpr std::uint64_t same_sequence(std::uint64_t state, std::uint64_t phase) {
  return (state & ~phase_mask) | phase;
}
constexpr std::uint64_t next_sequence(std::uint64_t state, std::uint64_t phase) {
  return ((state & ~phase_mask) + (phase_mask + 1)) | phase;
}

// A line each: records held by two threads at once must not share one, or
// every acquire and release of each moves it between their CPUs.
struct alignas(64) lease_record {
  std::atomic<std::uint64_t> state{phase_free};
  // The fields below are written only by the record's owner (its allocator,
  // or a renewer in phase renewing) before the release store of `state` that
  // makes it held; readers load them after an acquire load of `state` and
  // act only through a CAS from that state: relaxed is enough.
  std::atomic<std::uint64_t> token{0};
  std::atomic<std::int64_t> expires_at{0};
  std::atomic<std::uint32_t> pool{0}, slot{0}, generation{0};
  // While free: the next record of its chain (index + 1; 0 ends it), and,
  // for the first record of a chain in lease_table::batches, the length of
  // the chain and the first record of the next chain (index + 1).
  std::atomic<std::uint32_t> next_free{0};
  std::atomic<std::uint32_t> batch_length{0}, next_batch{0};
};

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// ---- labels ---------------------------------------------------------------------
// A label cell: word 0 = [sequence:56][size:8], words 1-7 the bytes. The
// sequence is odd while a writer holds the cell: set_label, or place()
// clearing the cell of a reused slot. Writers take it by a CAS to odd and
// give it back by a store that makes it even again; readers write nothing:
// they copy and keep the copy only when the sequence did not move and the
// slot still holds their agent (a sequence lock, with the slot's
// generation telling one agent of the slot from the next).
constexpr std::uint64_t label_writing = std::uint64_t{1} << 8;  // the sequence's lowest bit
constexpr std::uint64_t label_size_mask = 0xff;
constexpr std::size_t label_words = 7;
static_assert(agent_label::max_size == label_words * 8);

struct alignas(64) label_cell {
  std::atomic<std::uint64_t> words[1 + label_words] = {};
};

// Takes the cell for writing; answers its word 0 as it was.
std::uint64_t take_label(label_cell& c) {
  std::uint64_t w = c.words[0].load(std::memory_order_relaxed);
  for (;;) {
    if ((w & label_writing) != 0) {
      cpu_relax();
      w = c.words[0].load(std::memory_order_relaxed);
      continue;
    }
    // acquire: the previous writer's words are overwritten after it wrote them.
    if (c.words[0].compare_exchange_weak(w, w + label_writing, std::memory_order_acquire, std::memory_order_relaxed))
      break;
  }
  // release: a reader whose copy meets a word written below meets this
  // fence through its acquire fence, and then reads word 0 odd or later.
  std::atomic_thread_fence(std::memory_order_release);
  return w;
}

// Gives the cell back (taken when word 0 was `taken`) holding `size` bytes.
void give_label(label_cell& c, std::uint64_t taken, std::size_t size) {
  // release: the words written while it was held, to readers of word 0.
  c.words[0].store(((taken & ~label_size_mask) + 2 * label_writing) | size, std::memory_order_release);
}

// A copy of the cell, or nullopt while a writer holds it or it is empty.
std::optional<agent_label> copy_label(const label_cell& c) {
  // acquire: the words of the writer whose release store this reads.
  const std::uint64_t before = c.words[0].load(std::memory_order_acquire);
  const auto size = static_cast<std::uint8_t>(before & label_size_mask);
  if ((before & label_writing) != 0 || size == 0)
    return std::nullopt;
  std::uint64_t data[label_words];
  for (std::size_t i = 0; i < label_words; ++i)
    data[i] = c.words[1 + i].load(std::memory_order_relaxed);
  // acquire: a word above written by a later writer brings that writer's
  // fence after its taking of the cell, so word 0 then reads moved on.
  std::atomic_thread_fence(std::memory_order_acquire);
  if (c.words[0].load(std::memory_order_relaxed) != before)
    return std::nullopt;
  agent_label out;
  out.size = size;
  std::memcpy(out.bytes, data, size);
  return out;
}

constexpr std::uint32_t buckets_per_page = 256;

// Hot shared words (lease free-lists, pick cursors) are striped by thread
// (index/stripe.hpp), a cache line each, so that two threads acquiring and
// releasing do not bounce one line between their CPUs on every call.
constexpr std::uint32_t stripes = stripe::count;

// The fewest slots a pick region holds (see pool_state::region_of): below
// 2 * min_region agents a type is one region, and ties rotate over all.
constexpr std::uint32_t min_region = 64;

template <class T>
struct alignas(64) padded {
  std::atomic<T> value{0};
};

}  // namespace

// ---- per-type pool ------------------------------------------------------------

struct priority_index::pool_state {
  struct bucket_page {
    std::atomic<atomic_bitmap*> buckets[buckets_per_page] = {};
    ~bucket_page() {
      for (auto& b : buckets)
        delete b.load(std::memory_order_relaxed);
    }
  };

  pool_state(std::string n, std::uint32_t i)
      : name(std::move(n)), id(i), slots(max_agents_per_type), labels(max_agents_per_type), ranks(rank_count),
        pages(new std::atomic<bucket_page*>[rank_count / buckets_per_page]) {
    for (std::uint32_t p = 0; p < rank_count / buckets_per_page; ++p)
      pages[p].store(nullptr, std::memory_order_relaxed);
  }
  ~pool_state() {
    for (std::uint32_t p = 0; p < rank_count / buckets_per_page; ++p)
      delete pages[p].load(std::memory_order_relaxed);
  }

  atomic_bitmap* bucket(std::uint32_t rank) const {
    // acquire: pairs with the release CASes in bucket_or_create.
    bucket_page* page = pages[rank / buckets_per_page].load(std::memory_order_acquire);
    return page ? page->buckets[rank % buckets_per_page].load(std::memory_order_acquire) : nullptr;
  }

  atomic_bitmap& bucket_or_create(std::uint32_t rank) {
    auto& page_cell = pages[rank / buckets_per_page];
    bucket_page* page = page_cell.load(std::memory_order_acquire);
    if (page == nullptr) {
      auto* fresh = new bucket_page;
      if (page_cell.compare_exchange_strong(page, fresh, std::memory_order_acq_rel,
                                            std::memory_order_acquire))
        page = fresh;
      else
        delete fresh;
    }
    auto& cell = page->buckets[rank % buckets_per_page];
    atomic_bitmap* b = cell.load(std::memory_order_acquire);
    if (b == nullptr) {
      auto* fresh = new atomic_bitmap(max_agents_per_type);
      if (cell.compare_exchange_strong(b, fresh, std::memory_order_acq_rel, std::memory_order_acquire))
        b = fresh;
      else
        delete fresh;
    }
    return *b;
  }

  // Makes slot s visible in the bucket of `rank`. Reads only when the bit
  // and the rank's bit are set already (atomic_bitmap::set), which is the
  // steady state of an agent moving between the same few ranks.
  void list(std::uint32_t s, std::uint32_t rank) {
    bucket_or_create(rank).set(s);
    ranks.set(rank);
  }

  // Takes a stale hint, slot s in the bucket of `rank`, out, keeping every
  // hint one that never misses: clear, then re-read the word and list s
  // again if a concurrent writer put it back.
  void unlist(std::uint32_t s, std::uint32_t rank) {
    atomic_bitmap* b = bucket(rank);
    if (b == nullptr)
      return;
    b->clear(s);
    // The rank's bit in `ranks` stays set even if the bucket is now empty:
    // pick() drops it lazily when it meets it as the lowest rank.
    // seq_cst: pairs with the seq_cst CAS of a writer that moved s back into
    // `rank` and then found the bit set (atomic_bitmap::set reads it
    // seq_cst): either its read came after our clear and it set the bit
    // again, or its CAS came before our re-read here and we see its word.
    if (rank_of(slots.at(s).word.load(std::memory_order_seq_cst)) == rank)
      list(s, rank);
  }

  // Called by whoever won the CAS from some word to `after` on slot s.
  //
  // Only the new rank's bit is set; the old rank's bit stays, a stale hint
  // that the next pick meeting it drops (pick() validates every candidate
  // against its word). An agent that is acquired and released goes back
  // and forth between two ranks; clearing the old bit on every move wrote
  // two shared bitmap words per move, and on two CPUs each such write costs
  // a cache-line round trip. Each move leaves at most one stale bit and
  // each is dropped once, so picks pay O(1) amortized for them.
  void publish(std::uint32_t s, std::uint64_t after) {
    if (const std::uint32_t to = rank_of(after); to != no_rank)
      list(s, to);
  }

  // The slots a thread's picks start in: [first, last). The slots of a type
  // are cut into up to `stripes` regions of at least min_region slots, one
  // per stripe; ties are broken within the caller's region first, so that
  // two threads picking among many tied agents work on disjoint agents (and
  // disjoint cache lines) instead of racing for the same ones. When the
  // region holds no agent of the lowest rank, the pick goes on past it: the
  // rank order stays exact, only the choice among equals is local.
  struct region {
    std::uint32_t first, last;
  };
  static region region_of(std::uint32_t stripe_id, std::uint32_t hw) {
    // A power of two, so that cutting needs no division.
    const std::uint32_t length = std::max(min_region, std::bit_ceil((hw + stripes - 1) / stripes));
    const std::uint32_t shift = static_cast<std::uint32_t>(std::countr_zero(length));
    const std::uint32_t count = std::max(1u, (hw + length - 1) >> shift);
    const std::uint32_t k = stripe_id < count ? stripe_id : stripe_id % count;
    return {k << shift, std::min(hw, (k + 1) << shift)};
  }

  // A slot and the word it was validated against; none found when !found.
  // Sixteen bytes, returned in two registers: as a std::optional of a pair
  // (24 bytes, in memory), its copy to the caller was a failed
  // store-to-load forwarding on every acquire (perf annotate: a fifth of
  // acquire's samples on the load after the call).
  struct candidate {
    std::uint64_t word;
    std::uint32_t slot;
    bool found;
  };

  // Finds a candidate that is eligible in the lowest non-empty rank and
  // returns it with the word it was validated against. Drops stale hints.
  // `stripe_id` is the caller's (stripe::of_this_thread()), read once per call.
  candidate pick(std::uint32_t stripe_id) {
    for (;;) {
      const std::uint32_t rank = ranks.find_first();
      if (rank == atomic_bitmap::none)
        return {0, 0, false};
      atomic_bitmap* b = bucket(rank);
      const std::uint32_t s = b ? find_near(*b, stripe_id) : atomic_bitmap::none;
      if (s == atomic_bitmap::none) {
        // The bucket is empty: here its rank's bit is dropped, with the
        // same clear-then-re-read as the bitmap's summaries.
        ranks.clear(rank);
        if (b && !b->empty())
          ranks.set(rank);
        continue;
      }
      // seq_cst: the validation read of the Dekker pair with unlist().
      const std::uint64_t w = slots.at(s).word.load(std::memory_order_seq_cst);
      if (rank_of(w) != rank) {
        unlist(s, rank);  // a stale hint: the agent has moved
        continue;
      }
      return {w, s, true};
    }
  }

  // A set bit of bucket b (none if it has none): from the stripe's cursor
  // to the end of its region, then from the region's start, then anywhere.
  std::uint32_t find_near(const atomic_bitmap& b, std::uint32_t stripe_id) const {
    // relaxed: the high-water mark and the cursor only place the search;
    // any value gives a correct answer.
    const region r = region_of(stripe_id, high_water.load(std::memory_order_relaxed));
    std::uint32_t from = cursors[stripe_id].value.load(std::memory_order_relaxed);
    if (from < r.first || from >= r.last)
      from = r.first;
    // `none` is above every slot, so the bounds below also test for it.
    const std::uint32_t s = b.find_next(from);
    if (s < r.last)
      return s;
    if (from > r.first)
      if (const std::uint32_t early = b.find_next(r.first); early < from)
        return early;
    return s != atomic_bitmap::none ? s : b.find_first();
  }

  // The calling thread's next pick starts after slot s (see find_near).
  void advance_cursor(std::uint32_t stripe_id, std::uint32_t s) {
    // relaxed: the cursor only spreads ties.
    cursors[stripe_id].value.store(s + 1, std::memory_order_relaxed);
  }

  std::string name;
  std::uint32_t id;
  chunked_array<slot> slots;
  chunked_array<label_cell> labels;  // by slot; a chunk is made by its first set_label
  std::atomic<std::uint32_t> high_water{0};
  std::atomic<std::uint64_t> free_head{0};
  atomic_bitmap ranks;
  std::unique_ptr<std::atomic<bucket_page*>[]> pages;
  padded<std::uint32_t> cursors[stripes];  // where the next pick of a thread starts
};

namespace {

// Empties the label of slot s, if its chunk of labels exists. seq_cst (the
// chunk's load): a set_label that makes the chunk after this found none
// then reads, in its seq_cst re-check, the slot's word as the caller left
// it before (vacant, by a remove or a move's close), and writes nothing.
template <class Pool>
void clear_label(Pool& p, std::uint32_t s) {
  if (label_cell* c = p.labels.find(s))
    give_label(*c, take_label(*c), 0);
}

}  // namespace

// Where free lease records wait. A pair of acquire and release takes a
// record and gives one back; with a shared free-list each was a CAS on a
// shared word, two of the five atomic read-modify-writes of a pair. Here a
// thread that owns its stripe (index/stripe.hpp) keeps free records in a
// cache of its own, two chains of up to `batch` records (as tcmalloc's
// per-CPU caches keep objects): while its records come back to it, it
// touches no shared word; when its chains are full it hands a whole chain
// to `batches`, and when they are empty it takes one.
//
// Threads that share a stripe use that stripe's `loose` stack of single
// records, and take from `batches` when it is empty. Records flow from a
// thread that releases to one that acquires through `batches` (and the
// loose stacks, which an owner with nothing else takes from before it makes
// a record), so a table whose leases are acquired on one thread and
// released on another stays as large as the leases held at once, plus the
// caches. The caches hold at most 2 * batch records per stripe, also after
// the stripe's owner exited (its next owner takes them over), and a sharer
// holds up to batch - 1 for a moment while it puts back the rest of a
// chain: those are the free records another thread cannot take, so
// too_many_leases can come with that many fewer than max_leases held.
struct priority_index::lease_table {
  static constexpr std::uint32_t batch = 32;

  // A chain of free records linked by next_free: its first (index + 1; 0
  // when empty) and its length.
  struct chain {
    std::uint32_t first = 0;
    std::uint32_t length = 0;
  };
  // An owned stripe's free records: touched by the stripe's owner only.
  struct alignas(64) cache {
    chain current, spare;
  };

  lease_table() : records(max_leases) {}

  // A free record, or max_leases when the table is full: the caller's
  // own, else one from any loose stack (sharers of every stripe, an owned
  // one's included, push there), else a fresh one.
  std::uint32_t allocate(stripe me) {
    std::uint32_t r = me.owned ? from_cache(caches[me.id]) : from_shared(me.id);
    // A sharer's own loose stack was looked at in from_shared().
    for (std::uint32_t k = me.owned ? 0 : 1; r == no_index && k < stripes; ++k)
      r = pop_free(loose[(me.id + k) % stripes].value, records);
    return r != no_index ? r : grow(high_water, records, max_leases);
  }

  // An owner's: its current chain, its spare, a chain from `batches`, a
  // record of its stripe's loose stack; no_index when all are empty.
  std::uint32_t from_cache(cache& c) {
    if (c.current.length == 0)
      c.current = c.spare.length != 0 ? std::exchange(c.spare, {}) : pop_batch();
    if (c.current.length == 0)
      return no_index;
    const std::uint32_t r = c.current.first - 1;
    c.current = {records.at(r).next_free.load(std::memory_order_relaxed), c.current.length - 1};
    return r;
  }

  // A sharer's: a record of its stripe's loose stack, else the first of a
  // chain from `batches` (the rest goes back as a chain); no_index when
  // both are empty.
  std::uint32_t from_shared(std::uint32_t stripe_id) {
    if (const std::uint32_t r = pop_free(loose[stripe_id].value, records); r != no_index)
      return r;
    const chain got = pop_batch();
    if (got.length == 0)
      return no_index;
    const std::uint32_t r = got.first - 1;
    if (got.length > 1)
      push_batch({records.at(r).next_free.load(std::memory_order_relaxed), got.length - 1});
    return r;
  }

  // Puts record r, which the caller alone holds, back for reuse.
  void free(stripe me, std::uint32_t r) {
    if (!me.owned) {
      push_free(loose[me.id].value, records, r);
      return;
    }
    cache& c = caches[me.id];
    if (c.current.length == batch) {
      if (c.spare.length != 0)
        push_batch(c.spare);
      c.spare = std::exchange(c.current, {});
    }
    records.at(r).next_free.store(c.current.first, std::memory_order_relaxed);
    c.current = {r + 1, c.current.length + 1};
  }

  // Takes the chain on top of `batches` (length 0 when there is none).
  chain pop_batch() {
    // acquire: pairs with push_batch's release, so the chain's links and
    // its first record's fields written before the push are visible.
    std::uint64_t h = batches.load(std::memory_order_acquire);
    while ((h & 0xffffffffu) != 0) {
      const std::uint32_t first = static_cast<std::uint32_t>(h);
      lease_record& head = records.at(first - 1);
      // Read before the CAS and possibly stale: a chain popped meanwhile
      // moved the tag, and the CAS fails.
      const std::uint32_t length = head.batch_length.load(std::memory_order_relaxed);
      const std::uint32_t next = head.next_batch.load(std::memory_order_relaxed);
      if (batches.compare_exchange_weak(h, pack_head(static_cast<std::uint32_t>(h >> 32) + 1, next),
                                        std::memory_order_acquire, std::memory_order_acquire))
        return {first, length};
    }
    return {};
  }

  void push_batch(chain c) {
    lease_record& head = records.at(c.first - 1);
    head.batch_length.store(c.length, std::memory_order_relaxed);
    std::uint64_t h = batches.load(std::memory_order_relaxed);
    do {
      head.next_batch.store(static_cast<std::uint32_t>(h), std::memory_order_relaxed);
      // release: publishes the chain's links and the fields above to pop_batch.
    } while (!batches.compare_exchange_weak(h, pack_head(static_cast<std::uint32_t>(h >> 32) + 1, c.first),
                                            std::memory_order_release, std::memory_order_relaxed));
  }

  chunked_array<lease_record> records;
  std::atomic<std::uint32_t> high_water{0};
  alignas(64) std::atomic<std::uint64_t> batches{0};  // Treiber stack of chains, linked by next_batch
  padded<std::uint64_t> loose[stripes];               // Treiber stacks of records, linked by next_free
  cache caches[stripes];
};

// ---- priority_index --------------------------------------------------------------

namespace {
std::uint32_t checked_max_types(std::uint32_t n) {
  if (n < 1 || n > priority_index::max_types_limit)
    throw std::invalid_argument("priority_index: max_types must be within 1..65536");
  return n;
}
}  // namespace

priority_index::priority_index(std::uint32_t max_types)
    : max_types_(checked_max_types(max_types)),
      name_table_size_(2 * max_types_),
      pools_(new std::atomic<pool_state*>[max_types_]),
      names_(new std::atomic<std::uint32_t>[name_table_size_]),
      leases_(std::make_unique<lease_table>()) {
  for (std::uint32_t i = 0; i < max_types_; ++i)
    pools_[i].store(nullptr, std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < name_table_size_; ++i)
    names_[i].store(0, std::memory_order_relaxed);
}

priority_index::~priority_index() {
  for (std::uint32_t i = 0; i < max_types_; ++i)
    delete pools_[i].load(std::memory_order_relaxed);
}

priority_index::pool_state* priority_index::pool_at(std::uint32_t pool) const {
  // acquire: pairs with the release store in pool(), making the pool's
  // constructed state visible.
  return pool < max_types_ ? pools_[pool].load(std::memory_order_acquire) : nullptr;
}

std::optional<std::uint32_t> priority_index::find_pool(std::string_view agent_type) const {
  const std::size_t h = std::hash<std::string_view>{}(agent_type);
  for (std::uint32_t probe = 0; probe < name_table_size_; ++probe) {
    // acquire: pairs with the release store of the entry in pool().
    const std::uint32_t entry = names_[(h + probe) % name_table_size_].load(std::memory_order_acquire);
    if (entry == 0)
      return std::nullopt;
    if (pool_at(entry - 1)->name == agent_type)
      return entry - 1;
  }
  return std::nullopt;
}

result<std::uint32_t> priority_index::pool(std::string_view agent_type) {
  if (auto found = find_pool(agent_type))
    return {errc::ok, *found};
  std::lock_guard guard{create_mutex_};
  if (auto found = find_pool(agent_type))
    return {errc::ok, *found};
  const std::uint32_t id = pool_count_.load(std::memory_order_relaxed);
  if (id >= max_types_)
    return {errc::too_many_types, 0};
  pools_[id].store(new pool_state(std::string{agent_type}, id), std::memory_order_release);
  const std::size_t h = std::hash<std::string_view>{}(agent_type);
  for (std::uint32_t probe = 0;; ++probe) {
    auto& cell = names_[(h + probe) % name_table_size_];
    if (cell.load(std::memory_order_relaxed) == 0) {
      // release: publishes the pool pointer stored above to find_pool.
      cell.store(id + 1, std::memory_order_release);
      break;
    }
  }
  pool_count_.store(id + 1, std::memory_order_release);
  return {errc::ok, id};
}

std::string_view priority_index::pool_name(std::uint32_t pool) const {
  const pool_state* p = pool_at(pool);
  return p ? std::string_view{p->name} : std::string_view{};
}

result<agent_ref> priority_index::insert(std::uint32_t pool, std::uint32_t capacity, std::uint64_t tag,
                                         agent_status status) {
  pool_state* p = pool_at(pool);
  if (p == nullptr)
    return {errc::unknown_type, {}};
  if (capacity < 1 || capacity > max_capacity)
    return {errc::invalid_capacity, {}};
  if (status == agent_status::busy)
    return {errc::invalid_status, {}};
  return place(pool, capacity, tag, status, 0, 0);
}

result<agent_ref> priority_index::insert(std::string_view agent_type, std::uint32_t capacity, std::uint64_t tag,
                                         agent_status status) {
  // Every check that can refuse comes before the pool is made, so a refused
  // insert creates no pool; a new pool has room, so place() cannot refuse.
  if (capacity < 1 || capacity > max_capacity)
    return {errc::invalid_capacity, {}};
  if (status == agent_status::busy)
    return {errc::invalid_status, {}};
  const auto p = pool(agent_type);
  if (!p)
    return {p.error, {}};
  return place(*p, capacity, tag, status, 0, 0);
}

result<agent_ref> priority_index::place(std::uint32_t pool, std::uint32_t capacity, std::uint64_t tag,
                                        agent_status status, std::uint32_t reported, std::int64_t stamp) {
  pool_state* p = pool_at(pool);
  std::uint32_t s = pop_free(p->free_head, p->slots);
  const bool reused = s != no_index;
  if (!reused)
    s = grow(p->high_water, p->slots, max_agents_per_type);
  if (s == max_agents_per_type)
    return {errc::too_many_agents, {}};
  slot& sl = p->slots.at(s);
  // The slot is ours alone until its word turns non-vacant.
  const auto old = decode(sl.word.load(std::memory_order_relaxed));
  const std::uint32_t generation = (old.generation + 1) & generation_mask;
  // A new agent starts without the label of the slot's last one. A slot
  // never used has none: no agent was in it, so no handle names it, and
  // its label cell is as it was made (empty), with no set_label under way.
  if (reused)
    clear_label(*p, s);
  // release: a view() whose read of the tag meets the store below meets
  // this fence through its acquire fence, and then reads the word vacant
  // (the remove that freed the slot came before our pop) or moved on.
  std::atomic_thread_fence(std::memory_order_release);
  sl.tag.store(tag, std::memory_order_relaxed);
  sl.stamp.store(stamp, std::memory_order_relaxed);
  const std::uint64_t w = encode({0, reported, capacity, generation, status, false});
  // seq_cst: publishes the agent (and its tag, ordered before) to readers,
  // and takes part in the Dekker pair of unlist().
  sl.word.store(w, std::memory_order_seq_cst);
  p->publish(s, w);
  return {errc::ok, {pool, s, generation}};
}

result<agent_ref> priority_index::move(agent_ref agent, std::string_view agent_type, std::uint32_t capacity) {
  pool_state* p = pool_at(agent.pool);
  // acquire: pairs with the release in grow()'s chunk publication.
  if (p == nullptr || agent.slot >= p->high_water.load(std::memory_order_acquire))
    return {errc::unknown_agent, {}};
  if (capacity < 1 || capacity > max_capacity)
    return {view(agent) ? errc::invalid_capacity : errc::unknown_agent, {}};
  if (p->name == agent_type) {  // no move: the capacity is all that changes
    const errc e = set_capacity(agent, capacity);
    return {e, e == errc::ok ? agent : agent_ref{}};
  }
  slot& sl = p->slots.at(agent.slot);
  // Close the old slot first, by a CAS that requires it to hold no lease:
  // from then on no acquire can take it (it is vacant) and nothing can
  // change it (modify() refuses a vacant word), so the agent's state is
  // read once and carried over whole. Checking "no lease" and then
  // inserting and removing would let an acquire slip in between and
  // reserve a slot of an agent that is about to be counted afresh.
  // seq_cst: as in modify().
  std::uint64_t w = sl.word.load(std::memory_order_seq_cst);
  std::uint64_t closed = 0;
  do {
    if (!matches(w, agent))
      return {errc::unknown_agent, {}};
    const auto f = decode(w);
    if (f.leased > 0)
      return {errc::agent_has_leases, {}};
    if (f.reported > capacity)
      return {errc::capacity_below_load, {}};
    closed = w | vacant_bit;
  } while (!sl.word.compare_exchange_weak(w, closed, std::memory_order_seq_cst));
  // The label stays behind, cleared: the caller labels the new slot once
  // it knows the agent is still its own (the engine: still registered),
  // and a refused move reopens the slot without one. A set_label of the
  // old handle from now on finds the slot closed and writes nothing.
  clear_label(*p, agent.slot);
  // A closed slot is in no bucket: its bit there is a stale hint now.
  const auto f = decode(w);
  // The new pool is made only now that the move can no longer be refused
  // for the agent's sake; too_many_types is the only refusal left.
  auto fresh = [&]() -> result<agent_ref> {
    const auto to = pool(agent_type);
    if (!to)
      return {to.error, {}};
    return place(*to, capacity, sl.tag.load(std::memory_order_relaxed), f.status, f.reported,
                 sl.stamp.load(std::memory_order_relaxed));
  }();
  if (!fresh) {
    // Reopen the old slot as it was: it is vacant and on no free-list, so
    // nobody else can have written it meanwhile.
    // seq_cst: as the store of insert().
    sl.word.store(w, std::memory_order_seq_cst);
    p->publish(agent.slot, w);
    return fresh;
  }
  push_free(p->free_head, p->slots, agent.slot);
  return fresh;
}

template <class Change>
errc priority_index::modify(agent_ref agent, Change&& change) {
  pool_state* p = pool_at(agent.pool);
  // acquire: pairs with the release in grow()'s chunk publication.
  if (p == nullptr || agent.slot >= p->high_water.load(std::memory_order_acquire))
    return errc::unknown_agent;
  slot& sl = p->slots.at(agent.slot);
  // seq_cst on the load and the CAS: the agent word is one side of the
  // Dekker pair with the bucket bitmaps (see pool_state::unlist).
  std::uint64_t w = sl.word.load(std::memory_order_seq_cst);
  std::uint64_t next = 0;
  do {
    if (!matches(w, agent))
      return errc::unknown_agent;
    if (const errc e = change(w, next); e != errc::ok)
      return e;
  } while (!sl.word.compare_exchange_weak(w, next, std::memory_order_seq_cst));
  p->publish(agent.slot, next);
  return errc::ok;
}

errc priority_index::remove(agent_ref agent) {
  const errc e = modify(agent, [](std::uint64_t w, std::uint64_t& next) {
    next = w | vacant_bit;
    return errc::ok;
  });
  if (e == errc::ok) {
    pool_state* p = pool_at(agent.pool);
    push_free(p->free_head, p->slots, agent.slot);
  }
  return e;
}

errc priority_index::set_capacity(agent_ref agent, std::uint32_t capacity) {
  if (capacity < 1 || capacity > max_capacity)
    return view(agent) ? errc::invalid_capacity : errc::unknown_agent;
  return modify(agent, [capacity](std::uint64_t w, std::uint64_t& next) {
    auto f = decode(w);
    if (f.leased + f.reported > capacity)
      return errc::capacity_below_load;
    f.capacity = capacity;
    next = encode(f);
    return errc::ok;
  });
}

errc priority_index::set_status(agent_ref agent, agent_status status) {
  if (status == agent_status::busy)
    return view(agent) ? errc::invalid_status : errc::unknown_agent;
  return modify(agent, [status](std::uint64_t w, std::uint64_t& next) {
    auto f = decode(w);
    f.status = status;
    next = encode(f);
    return errc::ok;
  });
}

errc priority_index::set_load(agent_ref agent, std::int64_t n) {
  return modify(agent, [n](std::uint64_t w, std::uint64_t& next) {
    auto f = decode(w);
    // Compared as n > capacity - leased (never negative: leased <= capacity),
    // since n + leased overflows for a hostile n near INT64_MAX.
    if (n < 0 || n > std::int64_t{f.capacity} - std::int64_t{f.leased})
      return errc::load_out_of_range;
    f.reported = static_cast<std::uint32_t>(n);
    next = encode(f);
    return errc::ok;
  });
}

result<agent_view> priority_index::view(agent_ref agent) const {
  pool_state* p = pool_at(agent.pool);
  if (p == nullptr || agent.slot >= p->high_water.load(std::memory_order_acquire))
    return {errc::unknown_agent, {}};
  const slot& sl = p->slots.at(agent.slot);
  // acquire: pairs with the seq_cst store/CAS that wrote the word.
  const std::uint64_t w = sl.word.load(std::memory_order_acquire);
  if (!matches(w, agent))
    return {errc::unknown_agent, {}};
  if (agent_view v; view_of(sl, agent.pool, agent.slot, agent.generation, w, v))
    return {errc::ok, v};
  return {errc::unknown_agent, {}};
}

errc priority_index::set_label(agent_ref agent, std::string_view text) {
  pool_state* p = pool_at(agent.pool);
  // acquire: pairs with the release in grow()'s chunk publication.
  if (p == nullptr || agent.slot >= p->high_water.load(std::memory_order_acquire))
    return errc::unknown_agent;
  const slot& sl = p->slots.at(agent.slot);
  if (!matches(sl.word.load(std::memory_order_acquire), agent))
    return errc::unknown_agent;
  const bool keep = !text.empty() && text.size() <= agent_label::max_size;
  label_cell* c = keep ? &p->labels.make(agent.slot) : p->labels.find(agent.slot);
  if (c == nullptr)
    return errc::ok;  // no label to clear
  const std::uint64_t taken = take_label(*c);
  // Checked while the cell is ours: the place() that reuses the slot, and
  // the move that closes it, take the cell after they vacate the word, so
  // a match now means the slot's agent stays ours while we hold the cell.
  // seq_cst: when their take came first, its release (give) orders the
  // vacating before this load; when they found no chunk yet, see
  // clear_label.
  if (!matches(sl.word.load(std::memory_order_seq_cst), agent)) {
    give_label(*c, taken, taken & label_size_mask);
    return errc::unknown_agent;
  }
  std::uint64_t data[label_words] = {};
  const std::size_t size = keep ? text.size() : 0;
  std::memcpy(data, text.data(), size);
  for (std::size_t i = 0; i < label_words; ++i)
    c->words[1 + i].store(data[i], std::memory_order_relaxed);
  give_label(*c, taken, size);
  return errc::ok;
}

std::optional<agent_label> priority_index::label(agent_ref agent) const {
  pool_state* p = pool_at(agent.pool);
  // acquire: pairs with the release in grow()'s chunk publication.
  if (p == nullptr || agent.slot >= p->high_water.load(std::memory_order_acquire))
    return std::nullopt;
  const label_cell* c = p->labels.find(agent.slot);
  if (c == nullptr)
    return std::nullopt;
  auto copy = copy_label(*c);
  // After the copy's read of word 0 (acquire): a label set for a later
  // agent of the slot was set after that agent's word was published, so
  // the word read here has moved on from our handle.
  if (!copy || !matches(p->slots.at(agent.slot).word.load(std::memory_order_relaxed), agent))
    return std::nullopt;
  return copy;
}

errc priority_index::set_stamp(agent_ref agent, std::int64_t stamp) {
  pool_state* p = pool_at(agent.pool);
  if (p == nullptr || agent.slot >= p->high_water.load(std::memory_order_acquire))
    return errc::unknown_agent;
  slot& sl = p->slots.at(agent.slot);
  if (!matches(sl.word.load(std::memory_order_acquire), agent))
    return errc::unknown_agent;
  // relaxed: a stamp is advisory (the sweep re-checks with the owner actor).
  sl.stamp.store(stamp, std::memory_order_relaxed);
  return errc::ok;
}

void priority_index::scan(std::uint32_t pool, const std::function<void(const agent_view&)>& f) const {
  const pool_state* p = pool_at(pool);
  if (p == nullptr)
    return;
  const std::uint32_t end = p->high_water.load(std::memory_order_acquire);
  for (std::uint32_t s = 0; s < end; ++s) {
    const slot& sl = p->slots.at(s);
    // acquire: pairs with the seq_cst store of insert(), so tag and stamp
    // written before it are this agent's.
    const std::uint64_t w = sl.word.load(std::memory_order_acquire);
    if (w & vacant_bit)
      continue;
    // The word read again after the tag and stamp: an agent that left the
    // slot meanwhile is skipped (it was gone during the scan), never shown
    // with the tag of the agent that reused the slot.
    if (agent_view v; view_of(sl, pool, s, decode(w).generation, w, v))
      f(v);
  }
}

result<agent_view> priority_index::least_loaded(std::uint32_t pool) const {
  pool_state* p = pool_at(pool);
  if (p == nullptr)
    return {errc::unknown_type, {}};
  const std::uint32_t stripe_id = stripe::of_this_thread().id;
  for (;;) {
    const auto hit = p->pick(stripe_id);
    if (!hit.found)
      return {errc::no_capacity, {}};
    const auto s = hit.slot;
    const auto w = hit.word;
    p->advance_cursor(stripe_id, s);
    // The agent left the slot meanwhile: pick again.
    if (agent_view v; view_of(p->slots.at(s), pool, s, decode(w).generation, w, v))
      return {errc::ok, v};
  }
}

namespace {

// The answer of a successful acquire, its first sixteen bytes of lease
// (agent and record) written in one store. Written field by field, a
// caller that copies the lease whole (into a std::optional, a struct of
// its own) loads those bytes in one 16-byte load that no single store can
// forward, and waits for the stores to retire: perf annotate put 8 % of a
// pair's time on that load. GCC and Clang vector extensions: SSE on x86,
// NEON on ARM.
result<lease> granted(std::uint32_t pool, std::uint32_t slot, std::uint32_t generation, std::uint32_t record,
                      std::uint64_t token) {
  static_assert(offsetof(lease, agent) == 0 && offsetof(lease, record) == 12 && sizeof(agent_ref) == 12);
  using four_words = std::uint32_t __attribute__((vector_size(16)));
  const four_words head = {pool, slot, generation, record};
  result<lease> out;
  std::memcpy(static_cast<void*>(&out.value), &head, sizeof head);
  out.value.token = token;
  return out;
}

}  // namespace

result<lease> priority_index::acquire(std::uint32_t pool, std::int64_t expires_at, std::uint64_t token) {
  pool_state* p = pool_at(pool);
  if (p == nullptr)
    return {errc::unknown_type, {}};
  const stripe me = stripe::of_this_thread();
  for (;;) {
    const auto hit = p->pick(me.id);
    if (!hit.found)
      return {errc::no_capacity, {}};
    const std::uint32_t s = hit.slot;
    std::uint64_t w = hit.word;
    auto f = decode(w);
    ++f.leased;  // pick() validated load < capacity against this very word
    const std::uint64_t next = encode(f);
    slot& sl = p->slots.at(s);
    // seq_cst: the reserving CAS; see modify().
    if (!sl.word.compare_exchange_strong(w, next, std::memory_order_seq_cst))
      continue;  // someone changed this agent first: pick again
    p->publish(s, next);
    p->advance_cursor(me.id, s);

    auto& table = *leases_;
    const std::uint32_t r = table.allocate(me);
    if (r == max_leases) {
      modify({pool, s, f.generation}, [](std::uint64_t cur, std::uint64_t& after) {
        auto g = decode(cur);
        g.leased -= g.leased > 0 ? 1 : 0;
        after = encode(g);
        return errc::ok;
      });
      return {errc::too_many_leases, {}};
    }
    // The record is free and ours alone until its state turns held.
    lease_record& rec = table.records.at(r);
    rec.token.store(token, std::memory_order_relaxed);
    rec.pool.store(pool, std::memory_order_relaxed);
    rec.slot.store(s, std::memory_order_relaxed);
    rec.generation.store(f.generation, std::memory_order_relaxed);
    rec.expires_at.store(expires_at, std::memory_order_relaxed);
    const std::uint64_t free_state = rec.state.load(std::memory_order_relaxed);
    // release: publishes the fields above to release, renew and
    // reclaim_expired, which read them after their acquire load of state.
    rec.state.store(same_sequence(free_state, phase_held), std::memory_order_release);
    return granted(pool, s, f.generation, r, token);
  }
}

std::optional<errc> priority_index::free_if(std::uint32_t r, std::uint64_t held_state) {
  lease_record& rec = leases_->records.at(r);
  // acq_rel: winning this CAS makes us the only one to free the record
  // (acquire pairs with the release store that made it held, so its fields
  // are this holding's); the release half orders our reads of the fields
  // before the record's reuse.
  std::uint64_t expected = held_state;
  if (!rec.state.compare_exchange_strong(expected, next_sequence(held_state, phase_free),
                                         std::memory_order_acq_rel, std::memory_order_relaxed))
    return std::nullopt;
  return retire(r);
}

errc priority_index::retire(std::uint32_t r) {
  auto& table = *leases_;
  lease_record& rec = table.records.at(r);
  // Nobody reuses the record before it is on a free-list: read it first.
  const agent_ref agent{rec.pool.load(std::memory_order_relaxed), rec.slot.load(std::memory_order_relaxed),
                        rec.generation.load(std::memory_order_relaxed)};
  table.free(stripe::of_this_thread(), r);
  return modify(agent, [](std::uint64_t w, std::uint64_t& next) {
    auto f = decode(w);
    if (f.leased == 0)
      return errc::lease_not_held;  // cannot happen while leases are counted exactly
    --f.leased;
    next = encode(f);
    return errc::ok;
  });
}

errc priority_index::release(const lease& l) {
  auto& table = *leases_;
  // acquire: pairs with the release in grow()'s chunk publication.
  if (l.record >= table.high_water.load(std::memory_order_acquire))
    return errc::lease_not_held;
  lease_record& rec = table.records.at(l.record);
  for (;;) {
    // acquire: pairs with the release store that made the record held, so
    // the token read next is at least this holding's.
    const std::uint64_t state = rec.state.load(std::memory_order_acquire);
    if (phase_of(state) == phase_free)
      return errc::lease_not_held;
    if (phase_of(state) == phase_renewing) {
      cpu_relax();  // a renew of this record is between its two steps
      continue;
    }
    // A token read from a later holding differs (or, if equal, the CAS
    // from this earlier state fails): either way this holding is not freed.
    if (rec.token.load(std::memory_order_relaxed) != l.token)
      return errc::lease_not_held;
    if (auto freed = free_if(l.record, state))
      return *freed;
    // The state moved on (renewed or reclaimed meanwhile): look again.
  }
}

result<lease> priority_index::renew(const lease& l, std::int64_t now, std::int64_t expires_at) {
  auto& table = *leases_;
  // acquire: pairs with the release in grow()'s chunk publication.
  if (l.record >= table.high_water.load(std::memory_order_acquire))
    return {errc::lease_not_held, {}};
  lease_record& rec = table.records.at(l.record);
  for (;;) {
    // acquire: as in release().
    const std::uint64_t state = rec.state.load(std::memory_order_acquire);
    if (phase_of(state) == phase_free)
      return {errc::lease_not_held, {}};
    if (phase_of(state) == phase_renewing) {
      cpu_relax();  // another renew of this record is between its two steps
      continue;
    }
    if (rec.token.load(std::memory_order_relaxed) != l.token)
      return {errc::lease_not_held, {}};
    // acquire: pairs with the release store that made the record held. From
    // here to our store of state the record is ours: reclaim_expired skips
    // it, release waits. The expiry could not be changed with one CAS on
    // state (it is a second word), and written outside such a phase it could
    // land on the record's next holding, or be read stale by a reclaim that
    // then frees a lease we said was renewed.
    std::uint64_t expected = state;
    if (!rec.state.compare_exchange_strong(expected, same_sequence(state, phase_renewing),
                                           std::memory_order_acquire, std::memory_order_relaxed))
      continue;
    const lease renewed{{rec.pool.load(std::memory_order_relaxed), rec.slot.load(std::memory_order_relaxed),
                         rec.generation.load(std::memory_order_relaxed)},
                        l.record,
                        l.token};
    const std::int64_t deadline = rec.expires_at.load(std::memory_order_relaxed);
    const bool expired = deadline != 0 && deadline <= now;
    if (expired || !alive(renewed.agent)) {
      // release: orders our reads of the fields before the record's reuse.
      rec.state.store(next_sequence(state, phase_free), std::memory_order_release);
      retire(l.record);
      return {expired ? errc::lease_not_held : errc::unknown_agent, {}};
    }
    rec.expires_at.store(expires_at, std::memory_order_relaxed);
    // release: publishes the new expiry with the state; the new sequence
    // fails any reclaim CAS from a state read before the renewal.
    rec.state.store(next_sequence(state, phase_held), std::memory_order_release);
    return {errc::ok, renewed};
  }
}

std::size_t priority_index::reclaim_expired(std::int64_t now) {
  auto& table = *leases_;
  const std::uint32_t end = table.high_water.load(std::memory_order_acquire);
  std::size_t reclaimed = 0;
  for (std::uint32_t r = 0; r < end; ++r) {
    lease_record& rec = table.records.at(r);
    // acquire: pairs with the release store that made the record held (by
    // acquire or renew), so expires_at is the one written for this state.
    const std::uint64_t state = rec.state.load(std::memory_order_acquire);
    if (phase_of(state) != phase_held)
      continue;  // free, or being renewed (the renewer decides about expiry)
    const std::int64_t deadline = rec.expires_at.load(std::memory_order_relaxed);
    if ((deadline == 0 || deadline > now) && alive(record_agent(r)))
      continue;
    // Expired, or its agent was removed. If the record was renewed, released
    // or reused since our load, the CAS inside free_if fails on the changed
    // state and we leave it alone (fields read meanwhile may be a later
    // holding's: they decide nothing then).
    const auto e = free_if(r, state);
    if (e && (*e == errc::ok || *e == errc::unknown_agent))
      ++reclaimed;
  }
  return reclaimed;
}

agent_ref priority_index::record_agent(std::uint32_t r) const {
  const lease_record& rec = leases_->records.at(r);
  return {rec.pool.load(std::memory_order_relaxed), rec.slot.load(std::memory_order_relaxed),
          rec.generation.load(std::memory_order_relaxed)};
}

bool priority_index::alive(agent_ref agent) const {
  const pool_state* p = pool_at(agent.pool);
  // acquire: pairs with the release in grow()'s chunk publication.
  if (p == nullptr || agent.slot >= p->high_water.load(std::memory_order_acquire))
    return false;
  // acquire: pairs with the seq_cst store/CAS that wrote the word.
  return matches(p->slots.at(agent.slot).word.load(std::memory_order_acquire), agent);
}

void priority_index::set_lease_sequence(std::uint32_t r, std::uint64_t sequence) {
  auto& st = leases_->records.at(r).state;
  // seq_cst: a test-only write, ordered with everything around it.
  st.store(sequence << 2 | phase_of(st.load(std::memory_order_seq_cst)), std::memory_order_seq_cst);
}

std::uint32_t priority_index::lease_records() const {
  return leases_->high_water.load(std::memory_order_acquire);
}

std::uint64_t priority_index::lease_sequence(std::uint32_t r) const {
  // seq_cst: a test-only read.
  return leases_->records.at(r).state.load(std::memory_order_seq_cst) >> 2;
}

std::size_t priority_index::leases_held() const {
  // A scan rather than a shared counter: a counter would be one more cache
  // line written by every acquire and release.
  // Leases of a removed agent are not held any more, though their records
  // wait for reclaim_expired.
  const std::uint32_t end = leases_->high_water.load(std::memory_order_acquire);
  std::size_t held = 0;
  for (std::uint32_t r = 0; r < end; ++r)
    // acquire: pairs with the release store that made the record held, so
    // its agent fields are this holding's.
    if (phase_of(leases_->records.at(r).state.load(std::memory_order_acquire)) != phase_free &&
        alive(record_agent(r)))
      ++held;
  return held;
}

std::size_t priority_index::memory_bytes() const {
  std::size_t bytes = sizeof(*this) + max_types_ * sizeof(std::atomic<pool_state*>) +
                      name_table_size_ * sizeof(std::atomic<std::uint32_t>) + sizeof(lease_table) +
                      leases_->records.memory_bytes();
  const std::uint32_t n = pool_count_.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < n; ++i) {
    const pool_state* p = pool_at(i);
    bytes += sizeof(pool_state) + p->name.size() + p->slots.memory_bytes() + p->labels.memory_bytes() +
             p->ranks.memory_bytes() +
             (rank_count / buckets_per_page) * sizeof(void*);
    for (std::uint32_t page = 0; page < rank_count / buckets_per_page; ++page) {
      const auto* pg = p->pages[page].load(std::memory_order_acquire);
      if (pg == nullptr)
        continue;
      bytes += sizeof(*pg);
      for (const auto& b : pg->buckets)
        if (const auto* bm = b.load(std::memory_order_acquire))
          bytes += bm->memory_bytes();
    }
  }
  return bytes;
}

}  // namespace agentreg::index
