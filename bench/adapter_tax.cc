/*
 * adapter_tax — what each peer's adapter costs over the library used bare.
 *
 * For every peer (uthash, stb_ds, glib, absl, boost_flat, dense_hash,
 * sparse_hash, judy) and every size N, the same pre-generated u64 keys go
 * through three sides, side by side in one process:
 *   adapter: the registry's mb_map_ops, called through the vtable as the
 *            harness calls them (counting allocator, memcpy'd key blobs,
 *            MB_INSERTED / MB_REPLACED reported);
 *   plain:   the same adapter over an mb_alloc that is bare malloc / free,
 *            which splits the counting allocator's atomics (the harness's
 *            cost, paid by every map) from the adapter's own;
 *   bare:    the library's idiomatic inline loop, as its users write it
 *            (default allocator, typed keys, the library's own upsert:
 *            operator[] / insert_or_assign / hmput / JLI, or for uthash and
 *            glib, whose insert does not replace, find-then-add).
 * Phases, each timed and each verified: insert N new keys, look up the N
 * (hit: every key found, values summed and checked), look up N absent keys
 * (miss: none found), delete the N (every delete finds its key).
 * ns/op is the minimum over --reps repetitions (the sides alternate which
 * runs first); small N repeat whole create..destroy cycles so that a sample
 * holds ~1M operations.  tax = adapter / bare, plain_tax = plain / bare.
 * Bytes/entry after the inserts: adapter = the map's stats().bytes / N (its
 * bytes through mb_alloc; glib's table is not among them); bare = glibc's
 * mallinfo2() in-use bytes added by the bare map / N (malloc headers
 * included).  The bare Judy loop allocates through judy.c's JudyMalloc hook,
 * which is malloc when no adapter op is running.
 *
 *   adapter_tax [--peers a,b,...] [--sizes n,n,...] [--reps R] [--cycles C]
 *               [--sides adapter,plain,bare]
 *
 * Under callgrind (exact instruction counts) each phase of each side is its
 * own noinline function: at_adapter_{insert,hit,miss,delete} (the adapter
 * and plain sides; run one of them with --sides) and
 * bare_*::{insert_all,delete_all}, bare_{hit,miss}_all<bare_*>.
 * bench/adapter_tax.icount.py does that for every peer.  A side left out
 * prints "-".
 *
 * Exits 1 when a phase's answers are wrong, 2 on a usage error.
 */
extern "C" {
#include "counting_alloc.h"
#include "../impls/mb_map.h"
}
#include "stb_ds_bare.h"
#include "bench_cli.hpp"

#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <Judy.h>
#include <absl/container/flat_hash_map.h>
#include <boost/unordered/unordered_flat_map.hpp>
#include <glib.h>
#include <sparsehash/dense_hash_map>
#include <sparsehash/sparse_hash_map>
#include <uthash.h>

#define AT_NOINLINE __attribute__((noinline))

namespace {

enum { P_INSERT, P_HIT, P_MISS, P_DELETE, P_COUNT };
const char *const at_phase_names[P_COUNT] = {"insert", "hit", "miss", "delete"};

/* ---- keys ------------------------------------------------------------------- */

/* splitmix64's finaliser: a bijection on u64, so keys(i) are distinct. */
uint64_t at_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

struct at_keys {
    std::vector<uint64_t> hit, miss;
    uint64_t value_sum;  /* sum of AT_VAL over hit, mod 2^64 */
};

/* Returns N present and N absent keys, none of them a reserved key of
 * dense/sparse_hash's bare maps (UINT64_MAX, UINT64_MAX - 1). */
at_keys at_make_keys(size_t n)
{
    at_keys k;
    k.value_sum = 0;
    for (uint64_t i = 0; k.hit.size() < n || k.miss.size() < n; i++) {
        uint64_t x = at_mix(i);
        if (x >= UINT64_MAX - 1)
            continue;
        if (k.hit.size() < n && (i & 1) == 0) {
            k.hit.push_back(x);
            k.value_sum += AT_VAL(x);
        } else if (k.miss.size() < n && (i & 1) == 1) {
            k.miss.push_back(x);
        }
    }
    return k;
}

double at_now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

size_t at_malloc_in_use()
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* One side's cycle: create, the four phases (ns added to t[]), destroy.
 * Returns NULL, or why the answers were wrong. */
struct at_cycle_out {
    double t[P_COUNT];
    double bytes_per_entry;  /* measured on the first cycle only; < 0 = not yet */
};

/* ---- adapter sides ---------------------------------------------------------------- */

/* An mb_alloc that is malloc / free and nothing else (the "plain" side). */
void *at_plain_alloc(void *ctx, size_t size, size_t align)
{
    if (align <= alignof(max_align_t))
        return std::malloc(size ? size : 1);
    return std::aligned_alloc(align, (size + align - 1) & ~(align - 1));
}

void at_plain_free(void *ctx, void *p, size_t size, size_t align) { std::free(p); }

AT_NOINLINE const char *at_adapter_insert(const mb_map_ops *ops, void *m, const at_keys &k)
{
    for (uint64_t key : k.hit) {
        uint64_t v = AT_VAL(key);
        if (ops->insert(m, &key, &v) != MB_INSERTED)
            return "adapter insert of a new key did not say inserted";
    }
    return nullptr;
}

inline const char *at_adapter_lookup(const mb_map_ops *ops, void *m,
                                     const std::vector<uint64_t> &keys, size_t want_found,
                                     uint64_t want_sum)
{
    uint64_t sum = 0, v;
    size_t found = 0;
    for (uint64_t key : keys)
        if (ops->lookup(m, &key, &v) == MB_FOUND)
            sum += v, found++;
    if (found != want_found || (want_found && sum != want_sum))
        return "adapter lookups found the wrong keys or values";
    return nullptr;
}

AT_NOINLINE const char *at_adapter_hit(const mb_map_ops *ops, void *m, const at_keys &k)
{
    return at_adapter_lookup(ops, m, k.hit, k.hit.size(), k.value_sum);
}

AT_NOINLINE const char *at_adapter_miss(const mb_map_ops *ops, void *m, const at_keys &k)
{
    return at_adapter_lookup(ops, m, k.miss, 0, 0);
}

AT_NOINLINE const char *at_adapter_delete(const mb_map_ops *ops, void *m, const at_keys &k)
{
    size_t deleted = 0;
    for (uint64_t key : k.hit)
        deleted += ops->remove(m, &key) == MB_FOUND;
    return deleted == k.hit.size() ? nullptr : "adapter delete missed a key";
}

const char *at_adapter_cycle(const mb_map_ops *ops, bool counting, const at_keys &k,
                             at_cycle_out *out)
{
    mb_counter ctr;
    mb_counter_init(&ctr);
    mb_alloc a = counting ? mb_counter_alloc(&ctr) : mb_alloc{at_plain_alloc, at_plain_free, nullptr};
    mb_map_config cfg = {8, 8, 0, MB_SHRINK_NEVER, 0, 0x1234};
    void *m = ops->create(&a, &cfg);
    if (!m)
        return "adapter create failed";
    const char *err;
    double t0 = at_now_ns();
    err = at_adapter_insert(ops, m, k);
    double t1 = at_now_ns();
    if (!err && out->bytes_per_entry < 0) {
        mb_map_stats st;
        ops->stats(m, &st);
        if (st.count != k.hit.size())
            err = "adapter count after insert is wrong";
        out->bytes_per_entry = (double)st.bytes / (double)k.hit.size();
    }
    if (!err)
        err = at_adapter_hit(ops, m, k);
    double t2 = at_now_ns();
    if (!err)
        err = at_adapter_miss(ops, m, k);
    double t3 = at_now_ns();
    if (!err)
        err = at_adapter_delete(ops, m, k);
    double t4 = at_now_ns();
    ops->destroy(m);
    if (!err && ctr.live_bytes != 0)
        err = "adapter destroy leaked";
    out->t[P_INSERT] += t1 - t0;
    out->t[P_HIT] += t2 - t1;
    out->t[P_MISS] += t3 - t2;
    out->t[P_DELETE] += t4 - t3;
    return err;
}

/* ---- bare sides: the libraries' idiomatic loops ------------------------------------ */

/* Each bare side: insert_all(keys), lookup_all(keys, &found) -> value sum,
 * delete_all(keys) -> keys deleted, size(); constructed empty, destroyed by
 * its destructor.  hit_all / miss_all (below) give the two lookup phases
 * their own functions. */

/* The find / erase loops of the C++ maps (absl, boost_flat, dense_hash,
 * sparse_hash): each library's own API reads the same here; each side adds
 * its name, its insert idiom and any setup. */
template <class Map>
struct bare_find_erase {
    Map m;
    inline uint64_t lookup_all(const std::vector<uint64_t> &keys, size_t *found)
    {
        uint64_t sum = 0;
        size_t f = 0;
        for (uint64_t k : keys) {
            auto it = m.find(k);
            if (it != m.end())
                sum += it->second, f++;
        }
        *found = f;
        return sum;
    }
    AT_NOINLINE size_t delete_all(const std::vector<uint64_t> &keys)
    {
        size_t d = 0;
        for (uint64_t k : keys)
            d += m.erase(k);
        return d;
    }
    size_t size() const { return m.size(); }
};

/* absl and boost_flat: insert_or_assign, constructed empty. */
template <class Map>
struct bare_insert_or_assign : bare_find_erase<Map> {
    AT_NOINLINE void insert_all(const std::vector<uint64_t> &keys)
    {
        for (uint64_t k : keys)
            this->m.insert_or_assign(k, AT_VAL(k));
    }
};

struct bare_absl : bare_insert_or_assign<absl::flat_hash_map<uint64_t, uint64_t>> {
    static constexpr const char *name = "absl";
};

struct bare_boost_flat : bare_insert_or_assign<boost::unordered_flat_map<uint64_t, uint64_t>> {
    static constexpr const char *name = "boost_flat";
};

/* dense_hash and sparse_hash as their users write them: the library's
 * default allocator, reserved keys at the top of the key space. */
template <class Map>
struct bare_sparsehash_common : bare_find_erase<Map> {
    AT_NOINLINE void insert_all(const std::vector<uint64_t> &keys)
    {
        for (uint64_t k : keys)
            this->m[k] = AT_VAL(k);
    }
};

struct bare_dense_hash : bare_sparsehash_common<google::dense_hash_map<uint64_t, uint64_t>> {
    static constexpr const char *name = "dense_hash";
    bare_dense_hash()
    {
        m.set_empty_key(UINT64_MAX);
        m.set_deleted_key(UINT64_MAX - 1);
    }
};

struct bare_sparse_hash : bare_sparsehash_common<google::sparse_hash_map<uint64_t, uint64_t>> {
    static constexpr const char *name = "sparse_hash";
    bare_sparse_hash() { m.set_deleted_key(UINT64_MAX); }
};

/* uthash: HASH_FIND then HASH_ADD on a typed node, sizeof(key) known at
 * compile time (HASH_FIND_INT's pattern, for a u64 key). */
struct bare_uthash {
    static constexpr const char *name = "uthash";
    struct node {
        uint64_t key;
        uint64_t val;
        UT_hash_handle hh;
    };
    node *head = nullptr;
    AT_NOINLINE void insert_all(const std::vector<uint64_t> &keys)
    {
        for (uint64_t k : keys) {
            node *n;
            HASH_FIND(hh, head, &k, sizeof(uint64_t), n);
            if (!n) {
                n = (node *)malloc(sizeof *n);
                n->key = k;
                HASH_ADD(hh, head, key, sizeof(uint64_t), n);
            }
            n->val = AT_VAL(k);
        }
    }
    inline uint64_t lookup_all(const std::vector<uint64_t> &keys, size_t *found)
    {
        uint64_t sum = 0;
        size_t f = 0;
        for (uint64_t k : keys) {
            node *n;
            HASH_FIND(hh, head, &k, sizeof(uint64_t), n);
            if (n)
                sum += n->val, f++;
        }
        *found = f;
        return sum;
    }
    AT_NOINLINE size_t delete_all(const std::vector<uint64_t> &keys)
    {
        size_t d = 0;
        for (uint64_t k : keys) {
            node *n;
            HASH_FIND(hh, head, &k, sizeof(uint64_t), n);
            if (n) {
                HASH_DEL(head, n);
                free(n);
                d++;
            }
        }
        return d;
    }
    size_t size() const { return HASH_COUNT(head); }
    ~bare_uthash()
    {
        node *n, *tmp;
        HASH_ITER(hh, head, n, tmp) {
            HASH_DEL(head, n);
            free(n);
        }
    }
};

/* glib: GHashTable in set mode over malloc'd { key, value } nodes, with
 * GLib's own 64-bit integer hash; lookup, then add when absent. */
struct bare_glib {
    static constexpr const char *name = "glib";
    struct node {
        gint64 key;
        uint64_t val;
    };
    GHashTable *t = g_hash_table_new(g_int64_hash, g_int64_equal);
    AT_NOINLINE void insert_all(const std::vector<uint64_t> &keys)
    {
        for (uint64_t k : keys) {
            gint64 gk = (gint64)k;
            node *n = (node *)g_hash_table_lookup(t, &gk);
            if (!n) {
                n = (node *)malloc(sizeof *n);
                n->key = gk;
                g_hash_table_add(t, n);
            }
            n->val = AT_VAL(k);
        }
    }
    inline uint64_t lookup_all(const std::vector<uint64_t> &keys, size_t *found)
    {
        uint64_t sum = 0;
        size_t f = 0;
        for (uint64_t k : keys) {
            gint64 gk = (gint64)k;
            node *n = (node *)g_hash_table_lookup(t, &gk);
            if (n)
                sum += n->val, f++;
        }
        *found = f;
        return sum;
    }
    AT_NOINLINE size_t delete_all(const std::vector<uint64_t> &keys)
    {
        size_t d = 0;
        for (uint64_t k : keys) {
            gint64 gk = (gint64)k;
            gpointer n;
            if (g_hash_table_steal_extended(t, &gk, &n, NULL)) {
                free(n);
                d++;
            }
        }
        return d;
    }
    size_t size() const { return g_hash_table_size(t); }
    ~bare_glib()
    {
        GHashTableIter it;
        gpointer n;
        g_hash_table_iter_init(&it, t);
        while (g_hash_table_iter_next(&it, &n, NULL))
            free(n);
        g_hash_table_destroy(t);
    }
};

/* judy: the JLI / JLG / JLD macros (default error handling). */
struct bare_judy {
    static constexpr const char *name = "judy";
    Pvoid_t a = nullptr;
    AT_NOINLINE void insert_all(const std::vector<uint64_t> &keys)
    {
        for (uint64_t k : keys) {
            Pvoid_t pv; /* C++: the macros assign void * */
            JLI(pv, a, k);
            *(PWord_t)pv = AT_VAL(k);
        }
    }
    inline uint64_t lookup_all(const std::vector<uint64_t> &keys, size_t *found)
    {
        uint64_t sum = 0;
        size_t f = 0;
        for (uint64_t k : keys) {
            Pvoid_t pv;
            JLG(pv, a, k);
            if (pv)
                sum += *(PWord_t)pv, f++;
        }
        *found = f;
        return sum;
    }
    AT_NOINLINE size_t delete_all(const std::vector<uint64_t> &keys)
    {
        size_t d = 0;
        for (uint64_t k : keys) {
            int rc;
            JLD(rc, a, k);
            d += rc == 1;
        }
        return d;
    }
    size_t size() const
    {
        Word_t c;
        JLC(c, a, 0, -1);
        return c;
    }
    ~bare_judy()
    {
        Word_t bytes;
        JLFA(bytes, a);
        (void)bytes;
    }
};

/* stb_ds: hmput / hmgeti / hmdel, compiled in stb_ds_bare.c. */
struct bare_stb_ds {
    static constexpr const char *name = "stb_ds";
    void *m = nullptr;
    size_t count = 0;
    AT_NOINLINE void insert_all(const std::vector<uint64_t> &keys)
    {
        m = bare_stb_insert_all(m, keys.data(), keys.size());
        count = keys.size();
    }
    inline uint64_t lookup_all(const std::vector<uint64_t> &keys, size_t *found)
    {
        return bare_stb_lookup_all(m, keys.data(), keys.size(), found);
    }
    AT_NOINLINE size_t delete_all(const std::vector<uint64_t> &keys)
    {
        size_t d;
        m = bare_stb_delete_all(m, keys.data(), keys.size(), &d);
        count -= d;
        return d;
    }
    size_t size() const { return count; } /* stb_ds's hmlen counts its default entry too */
    ~bare_stb_ds() { bare_stb_free(m); }
};

template <class Bare>
AT_NOINLINE uint64_t bare_hit_all(Bare &b, const at_keys &k, size_t *found)
{
    return b.lookup_all(k.hit, found);
}

template <class Bare>
AT_NOINLINE uint64_t bare_miss_all(Bare &b, const at_keys &k, size_t *found)
{
    return b.lookup_all(k.miss, found);
}

template <class Bare>
const char *at_bare_cycle(const at_keys &k, at_cycle_out *out)
{
    size_t in_use = out->bytes_per_entry < 0 ? at_malloc_in_use() : 0;
    const char *err = nullptr;
    size_t found;
    {
        Bare b;
        double t0 = at_now_ns();
        b.insert_all(k.hit);
        double t1 = at_now_ns();
        if (b.size() != k.hit.size())
            err = "bare count after insert is wrong";
        if (out->bytes_per_entry < 0)
            out->bytes_per_entry =
                (double)(at_malloc_in_use() - in_use) / (double)k.hit.size();
        uint64_t sum = bare_hit_all(b, k, &found);
        double t2 = at_now_ns();
        if (!err && (found != k.hit.size() || sum != k.value_sum))
            err = "bare hits found the wrong keys or values";
        bare_miss_all(b, k, &found);
        double t3 = at_now_ns();
        if (!err && found != 0)
            err = "bare misses found a key";
        size_t d = b.delete_all(k.hit);
        double t4 = at_now_ns();
        if (!err && d != k.hit.size())
            err = "bare delete missed a key";
        out->t[P_INSERT] += t1 - t0;
        out->t[P_HIT] += t2 - t1;
        out->t[P_MISS] += t3 - t2;
        out->t[P_DELETE] += t4 - t3;
    }
    return err;
}

/* ---- the table ------------------------------------------------------------------- */

struct at_peer {
    const char *name;
    const char *(*bare_cycle)(const at_keys &, at_cycle_out *);
};

const at_peer at_peers[] = {
    {"uthash", at_bare_cycle<bare_uthash>},
    {"stb_ds", at_bare_cycle<bare_stb_ds>},
    {"glib", at_bare_cycle<bare_glib>},
    {"absl", at_bare_cycle<bare_absl>},
    {"boost_flat", at_bare_cycle<bare_boost_flat>},
    {"dense_hash", at_bare_cycle<bare_dense_hash>},
    {"sparse_hash", at_bare_cycle<bare_sparse_hash>},
    {"judy", at_bare_cycle<bare_judy>},
};

enum { S_ADAPTER, S_PLAIN, S_BARE, S_COUNT };
const char *const at_side_names[S_COUNT] = {"adapter", "plain", "bare"};

struct at_side_result {
    double ns_per_op[P_COUNT];  /* minimum over reps */
    double bytes_per_entry;
};

/* Runs one side's cycles for a sample; returns per-op ns in out. */
const char *at_sample(const at_peer &p, const mb_map_ops *ops, int side, const at_keys &k,
                      size_t cycles, double bytes_seen, at_cycle_out *out)
{
    std::memset(out->t, 0, sizeof out->t);
    out->bytes_per_entry = bytes_seen;
    for (size_t c = 0; c < cycles; c++) {
        const char *err = side == S_BARE ? p.bare_cycle(k, out)
                                         : at_adapter_cycle(ops, side == S_ADAPTER, k, out);
        if (err)
            return err;
    }
    for (double &t : out->t)
        t /= (double)(cycles * k.hit.size());
    return nullptr;
}

/* Prints " value" right-aligned in width, or " -" there when the side did not run. */
void at_print_num(bool ran, double v, int width, int decimals)
{
    if (ran)
        std::printf(" %*.*f", width, decimals, v);
    else
        std::printf(" %*s", width, "-");
}

[[noreturn]] void at_usage(FILE *f, int code, const char *why)
{
    if (why)
        std::fprintf(f, "adapter_tax: %s\n", why);
    std::fprintf(f, "usage: adapter_tax [--peers a,b,...] [--sizes n,n,...] [--reps R]"
                    " [--cycles C] [--sides adapter,plain,bare]\n"
                    "peers: uthash stb_ds glib absl boost_flat dense_hash sparse_hash judy"
                    " (default: all)\n"
                    "sizes: default 1000,100000,1000000; reps: default 5;"
                    " cycles per sample: default 2^20 / n (at least 1)\n");
    std::exit(code);
}

size_t at_parse_size(const std::string &s)
{
    char *end;
    errno = 0;
    double v = std::strtod(s.c_str(), &end); /* accepts 1e6 */
    if (errno || *end || v < 1 || v > 1e9 || v != (double)(size_t)v)
        at_usage(stderr, 2, ("bad size: " + s).c_str());
    return (size_t)v;
}

}  // namespace

int main(int argc, char **argv)
{
    std::vector<std::string> peers;
    std::vector<size_t> sizes = {1000, 100000, 1000000};
    size_t reps = 5, cycles_flag = 0;
    bool side_on[3] = {true, true, true}; /* S_ADAPTER, S_PLAIN, S_BARE */

    for (const at_peer &p : at_peers)
        peers.push_back(p.name);
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h")
            at_usage(stdout, 0, nullptr);
        if (i + 1 >= argc)
            at_usage(stderr, 2, ("missing value for " + a).c_str());
        if (a == "--peers") {
            peers = bench_split_commas(argv[++i]);
        } else if (a == "--sizes") {
            sizes.clear();
            for (const std::string &s : bench_split_commas(argv[++i]))
                sizes.push_back(at_parse_size(s));
        } else if (a == "--reps") {
            reps = at_parse_size(argv[++i]);
        } else if (a == "--cycles") {
            cycles_flag = at_parse_size(argv[++i]);
        } else if (a == "--sides") {
            side_on[0] = side_on[1] = side_on[2] = false;
            for (const std::string &sd : bench_split_commas(argv[++i])) {
                bool known = false;
                for (int k = 0; k < 3; k++)
                    if (sd == at_side_names[k])
                        side_on[k] = known = true;
                if (!known)
                    at_usage(stderr, 2, ("unknown side: " + sd).c_str());
            }
        } else {
            at_usage(stderr, 2, ("unknown argument: " + a).c_str());
        }
    }
    std::vector<const at_peer *> chosen;
    for (const std::string &name : peers) {
        const at_peer *found = nullptr;
        for (const at_peer &p : at_peers)
            if (name == p.name)
                found = &p;
        if (!found || !mb_registry_find(name.c_str()))
            at_usage(stderr, 2, ("unknown peer: " + name).c_str());
        chosen.push_back(found);
    }

    std::printf("# ns/op: minimum of %zu reps; tax = adapter / bare; plain_tax = plain / bare;"
                " B/entry after the inserts (insert rows)\n",
                reps);
    std::printf("%-12s %9s %-7s %10s %10s %10s %7s %9s %10s %10s\n", "peer", "n", "phase",
                "adapter_ns", "plain_ns", "bare_ns", "tax", "plain_tax", "adapter_B", "bare_B");

    for (size_t n : sizes) {
        at_keys k = at_make_keys(n);
        size_t cycles = cycles_flag ? cycles_flag : std::max<size_t>(1, (1u << 20) / n);
        for (const at_peer *p : chosen) {
            const mb_map_ops *ops = mb_registry_find(p->name);
            at_side_result res[S_COUNT];
            for (at_side_result &r : res) {
                std::fill(r.ns_per_op, r.ns_per_op + P_COUNT, 1e300);
                r.bytes_per_entry = -1;
            }
            for (size_t rep = 0; rep < reps; rep++) {
                for (int s = 0; s < S_COUNT; s++) {
                    int side = (int)((rep + (size_t)s) % S_COUNT); /* rotate who goes first */
                    if (!side_on[side])
                        continue;
                    at_cycle_out out;
                    const char *err = at_sample(*p, ops, side, k, cycles,
                                                res[side].bytes_per_entry, &out);
                    if (err) {
                        std::fprintf(stderr, "adapter_tax: %s n=%zu %s: %s\n", p->name, n,
                                     at_side_names[side], err);
                        return 1;
                    }
                    res[side].bytes_per_entry = out.bytes_per_entry;
                    for (int ph = 0; ph < P_COUNT; ph++)
                        res[side].ns_per_op[ph] = std::min(res[side].ns_per_op[ph], out.t[ph]);
                }
            }
            for (int ph = 0; ph < P_COUNT; ph++) {
                std::printf("%-12s %9zu %-7s", p->name, n, at_phase_names[ph]);
                for (int sd = 0; sd < S_COUNT; sd++)
                    at_print_num(side_on[sd], res[sd].ns_per_op[ph], 10, 2);
                at_print_num(side_on[S_ADAPTER] && side_on[S_BARE],
                             res[S_ADAPTER].ns_per_op[ph] / res[S_BARE].ns_per_op[ph], 7, 2);
                at_print_num(side_on[S_PLAIN] && side_on[S_BARE],
                             res[S_PLAIN].ns_per_op[ph] / res[S_BARE].ns_per_op[ph], 9, 2);
                if (ph == P_INSERT) {
                    at_print_num(side_on[S_ADAPTER], res[S_ADAPTER].bytes_per_entry, 10, 1);
                    at_print_num(side_on[S_BARE], res[S_BARE].bytes_per_entry, 10, 1);
                }
                std::printf("\n");
            }
            std::fflush(stdout);
        }
    }
    return 0;
}
