/*
 * flagship.cc — a lean side-by-side benchmark of the flagship maps against
 * boost::unordered_flat_map, u64 -> u64, uniform keys.
 *
 *   mb_flagship_bench [--n 1e3,1e5,1e6,1e7] [--reps R] [--wall] [--maps a,b,...]
 *   mb_flagship_bench --icount MAP PHASE N      (under callgrind; see below)
 *   mb_flagship_bench --mem-sweep LO HI POINTS [--maps ...]   (bytes/entry vs N)
 *   mb_flagship_bench --help
 *
 * Maps:
 *   flat15, swiss   own maps, called through their mb_map_ops vtable exactly
 *                   as the harness calls them (indirect call, key and value
 *                   passed by pointer), with the counting allocator
 *   boost_xmx       boost::unordered_flat_map<uint64_t, uint64_t> used bare
 *                   (inline), its defaults: boost::hash<uint64_t> (the
 *                   identity) post-mixed by Boost 1.81's xmx (xor-shift,
 *                   multiply, xor-shift), with a counting std allocator
 *   boost_mb        the same map with flat15's hash, mb_hash_u64 (one
 *                   64x64->128 multiply, halves xored), marked avalanching
 *                   so boost applies no extra mixing
 *   flat15_inline   flat15's own u64 -> u64 bodies in inline loops
 *                   (flagship_bare.c): flat15 minus the vtable
 *   boost_vt        boost_xmx behind a bench-local mb_map_ops (one
 *                   out-of-line call per op, key and value by pointer):
 *                   boost plus the vtable, the like-for-like comparison
 *                   with flat15
 *
 * Keys: ins[i] = mix(2i+1), miss[i] = mix(2i+2), mix a bijective 64-bit
 * finaliser, so every key is distinct and no miss key is present.  The hit
 * and delete order is a shuffle of ins.  Every array is built before any
 * timed region.
 *
 * Phases, each one timed loop whose answers are checked after it:
 *   insert  ins in order, no capacity hint, value i; every answer "new"
 *   hit     the shuffled keys; the sum of the values found must be N(N-1)/2
 *   miss    miss keys; nothing may be found
 *   delete  the shuffled keys; every one must be found
 * A mismatch aborts the run (exit 1): a wrong answer never becomes a figure.
 *
 * One repetition runs every map (order rotated per repetition so none is
 * always first) through all phases at one N; small N repeat the whole
 * create/insert/.../destroy cycle `rounds` times (rounds = max(1, 2e6 / N))
 * and sum the phase times.  Per (N, map, phase) the median ns/op over the
 * repetitions is printed with min and max; the ratios flat15 / boost are the
 * median of the per-repetition ratios (maps run side by side, so machine
 * noise common to a repetition cancels).  Times are this thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID) unless --wall: on a shared machine that leaves
 * out the time spent waiting for a core.  bytes/entry = live bytes after the
 * insert phase / N: the counting allocator's for the own maps (map struct
 * included), the counting std allocator's for boost (its buffer only; the
 * map object itself is on the stack, 40-odd bytes).  flt/kins = minor page
 * faults per 1000 inserts in the insert phase (median): fresh pages the
 * allocator handed out, which the kernel zeroes on first touch.
 *
 * --icount MAP PHASE N: builds the keys and runs the phases before PHASE with
 * callgrind collection off, toggles collection on around PHASE only, and
 * prints "ops N".  bench/flagship_icount.sh runs it under
 *   valgrind --tool=callgrind --collect-atstart=no
 * and divides the collected Ir by N.
 */
#include <boost/version.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <valgrind/callgrind.h>

extern "C" {
#include "counting_alloc.h"
#include "mb_map.h"
}
#include "flagship_bare.h"
#include "bench_cli.hpp"

static_assert(BOOST_VERSION >= 108100, "needs Boost 1.81 (libboost1.81-dev), not an older one");

namespace {

enum phase { P_INSERT, P_HIT, P_MISS, P_DELETE, P_COUNT };
const char *const phase_names[P_COUNT] = {"insert", "hit", "miss", "delete"};

uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

struct keyset {
    std::vector<uint64_t> ins, miss, order;
    explicit keyset(size_t n) : ins(n), miss(n), order(n)
    {
        for (size_t i = 0; i < n; i++) {
            ins[i] = mix64(0x9e3779b97f4a7c15ULL * (2 * i + 1));
            miss[i] = mix64(0x9e3779b97f4a7c15ULL * (2 * i + 2));
        }
        std::vector<size_t> idx(n);
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        uint64_t r = 42;
        for (size_t i = n; i > 1; i--) { /* Fisher-Yates with a splitmix stream */
            r += 0x9e3779b97f4a7c15ULL;
            size_t j = (size_t)((( __uint128_t)mix64(r) * i) >> 64);
            std::swap(idx[i - 1], idx[j]);
        }
        for (size_t i = 0; i < n; i++)
            order[i] = ins[idx[i]];
    }
};

/* This thread's CPU time: on a machine shared with other jobs it leaves out
 * the time the process waits for a core (it still pays for their cache
 * traffic); --wall switches to CLOCK_MONOTONIC. */
clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

double now_ns()
{
    timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

[[noreturn]] void fail(const char *map, const char *phase, size_t n, const char *what)
{
    fprintf(stderr, "flagship: %s %s at N=%zu: %s\n", map, phase, n, what);
    exit(1);
}

/* ---- a counting std allocator for boost ---------------------------------- */

struct byte_count {
    int64_t live = 0, peak = 0;
};

template <class T> struct counting_allocator {
    using value_type = T;
    byte_count *c;
    explicit counting_allocator(byte_count *c_) : c(c_) {}
    template <class U> counting_allocator(const counting_allocator<U> &o) : c(o.c) {}
    T *allocate(size_t n)
    {
        c->live += (int64_t)(n * sizeof(T));
        c->peak = std::max(c->peak, c->live);
        return std::allocator<T>().allocate(n);
    }
    void deallocate(T *p, size_t n)
    {
        c->live -= (int64_t)(n * sizeof(T));
        std::allocator<T>().deallocate(p, n);
    }
    template <class U> bool operator==(const counting_allocator<U> &o) const { return c == o.c; }
    template <class U> bool operator!=(const counting_allocator<U> &o) const { return c != o.c; }
};

/* flat15's hash, declared avalanching so boost applies no xmx on top. */
struct mb_hasher {
    using is_avalanching = void;
    uint64_t seed = 0;
    size_t operator()(uint64_t k) const { return mb_hash_u64(k, seed); }
};

/* ---- one map through all phases ----------------------------------------------- */

struct result {
    double ns[P_COUNT] = {0, 0, 0, 0};
    double bytes_per_entry = 0;
    double insert_faults_per_kop = 0; /* minor page faults per 1000 inserts */
};

long minor_faults()
{
    rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_minflt;
}

/* Runs the phases on map type M (an adapter below) for `rounds` fresh maps;
 * with icount_phase >= 0 toggles callgrind collection around that phase.
 * Each adapter supplies the phase loops (insert_all, lookup_all,
 * remove_all), so each map's loop is written the way its users call it. */
template <class M> result run_map(const char *name, const keyset &k, size_t rounds, int icount_phase)
{
    const size_t n = k.ins.size();
    const uint64_t want_sum = (uint64_t)n * (n - 1) / 2;
    result r;
    for (size_t round = 0; round < rounds; round++) {
        M m;
        double t0;
        size_t cnt;
        uint64_t sum = 0;

        if (icount_phase == P_INSERT) CALLGRIND_TOGGLE_COLLECT;
        long f0 = minor_faults();
        t0 = now_ns();
        cnt = m.insert_all(k.ins.data(), n);
        r.ns[P_INSERT] += now_ns() - t0;
        r.insert_faults_per_kop += (double)(minor_faults() - f0);
        if (icount_phase == P_INSERT) CALLGRIND_TOGGLE_COLLECT;
        if (cnt != n)
            fail(name, "insert", n, "not every key was new");
        if (round == 0)
            r.bytes_per_entry = (double)m.bytes() / (double)n;

        if (icount_phase == P_HIT) CALLGRIND_TOGGLE_COLLECT;
        t0 = now_ns();
        cnt = m.lookup_all(k.order.data(), n, &sum);
        r.ns[P_HIT] += now_ns() - t0;
        if (icount_phase == P_HIT) CALLGRIND_TOGGLE_COLLECT;
        if (cnt != n || sum != want_sum)
            fail(name, "hit", n, "a key was missing or had the wrong value");

        if (icount_phase == P_MISS) CALLGRIND_TOGGLE_COLLECT;
        t0 = now_ns();
        cnt = m.lookup_all(k.miss.data(), n, &sum);
        r.ns[P_MISS] += now_ns() - t0;
        if (icount_phase == P_MISS) CALLGRIND_TOGGLE_COLLECT;
        if (cnt != 0 || sum != 0)
            fail(name, "miss", n, "an absent key was found");

        if (icount_phase == P_DELETE) CALLGRIND_TOGGLE_COLLECT;
        t0 = now_ns();
        cnt = m.remove_all(k.order.data(), n);
        r.ns[P_DELETE] += now_ns() - t0;
        if (icount_phase == P_DELETE) CALLGRIND_TOGGLE_COLLECT;
        if (cnt != n || m.size() != 0)
            fail(name, "delete", n, "a key was not found or the map is not empty");
        if (icount_phase >= 0)
            break;
    }
    for (double &x : r.ns)
        x /= (double)(n * rounds);
    r.insert_faults_per_kop *= 1000.0 / (double)(n * rounds);
    return r;
}

/* A map behind an mb_map_ops table, called as the harness calls it: the
 * key copied into a local, key and value passed by pointer, one indirect
 * call per op. */
struct vtable_map {
    const mb_map_ops *ops;
    mb_counter ctr;
    mb_alloc a;
    void *m;
    explicit vtable_map(const mb_map_ops *ops_) : ops(ops_)
    {
        mb_counter_init(&ctr);
        a = mb_counter_alloc(&ctr);
        mb_map_config cfg = {8, 8, 0, MB_SHRINK_NEVER, 0, 0};
        m = ops->create(&a, &cfg);
        if (!m)
            fail(ops->name, "create", 0, "out of memory");
    }
    ~vtable_map() { ops->destroy(m); }
    vtable_map(const vtable_map &) = delete;
    vtable_map &operator=(const vtable_map &) = delete;
    size_t insert_all(const uint64_t *keys, size_t n)
    {
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t key = keys[i], val = i;
            int rc = ops->insert(m, &key, &val);
            if (rc == MB_ENOMEM)
                fail(ops->name, "insert", n, "out of memory");
            cnt += rc == MB_INSERTED;
        }
        return cnt;
    }
    size_t lookup_all(const uint64_t *keys, size_t n, uint64_t *sum)
    {
        size_t cnt = 0;
        uint64_t s = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t key = keys[i], val;
            if (ops->lookup(m, &key, &val) == MB_FOUND) {
                s += val;
                cnt++;
            }
        }
        *sum = s;
        return cnt;
    }
    size_t remove_all(const uint64_t *keys, size_t n)
    {
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t key = keys[i];
            cnt += ops->remove(m, &key) == MB_FOUND;
        }
        return cnt;
    }
    size_t bytes() const { return (size_t)ctr.live_bytes; }
    size_t size() const
    {
        mb_map_stats st;
        ops->stats(m, &st);
        return st.count;
    }
};

const mb_map_ops *registered(const char *name)
{
    const mb_map_ops *ops = mb_registry_find(name);
    if (!ops)
        fail(name, "create", 0, "not registered");
    return ops;
}

struct flat15_vt : vtable_map {
    flat15_vt() : vtable_map(registered("flat15")) {}
};
struct swiss_vt : vtable_map {
    swiss_vt() : vtable_map(registered("swiss")) {}
};

/* flat15's own bodies in inline loops (flagship_bare.c): no vtable. */
struct flat15_inline : vtable_map {
    flat15_inline() : vtable_map(f15bare_ops()) {}
    size_t insert_all(const uint64_t *keys, size_t n)
    {
        size_t cnt = f15bare_insert(m, keys, n);
        if (cnt == 0 && n)
            fail("flat15_inline", "insert", n, "out of memory");
        return cnt;
    }
    size_t lookup_all(const uint64_t *keys, size_t n, uint64_t *sum)
    {
        return f15bare_lookup(m, keys, n, sum);
    }
    size_t remove_all(const uint64_t *keys, size_t n) { return f15bare_remove(m, keys, n); }
};

/* boost::unordered_flat_map used bare (inline), with hasher H. */
template <class H> struct boost_map {
    byte_count bc;
    using alloc = counting_allocator<std::pair<const uint64_t, uint64_t>>;
    using map_type = boost::unordered_flat_map<uint64_t, uint64_t, H, std::equal_to<uint64_t>, alloc>;
    map_type m;
    boost_map() : m(0, H(), std::equal_to<uint64_t>(), alloc(&bc)) {}
    size_t insert_all(const uint64_t *keys, size_t n)
    {
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++)
            cnt += m.emplace(keys[i], (uint64_t)i).second;
        return cnt;
    }
    size_t lookup_all(const uint64_t *keys, size_t n, uint64_t *sum)
    {
        size_t cnt = 0;
        uint64_t s = 0;
        for (size_t i = 0; i < n; i++) {
            auto it = m.find(keys[i]);
            if (it != m.end()) {
                s += it->second;
                cnt++;
            }
        }
        *sum = s;
        return cnt;
    }
    size_t remove_all(const uint64_t *keys, size_t n)
    {
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++)
            cnt += m.erase(keys[i]);
        return cnt;
    }
    size_t bytes() const { return (size_t)bc.live; }
    size_t size() const { return m.size(); }
};

/* boost behind a bench-local mb_map_ops (out-of-line functions through
 * pointers), to show the same interface tax on boost: not a registered
 * peer, only what the vtable costs it. */
using boost_default = boost_map<boost::hash<uint64_t>>;
void *bvt_create(const mb_alloc *, const mb_map_config *) { return new boost_default(); }
void bvt_destroy(void *m) { delete static_cast<boost_default *>(m); }
int bvt_insert(void *m, const void *key, const void *val)
{
    uint64_t k, v;
    memcpy(&k, key, 8);
    memcpy(&v, val, 8);
    auto r = static_cast<boost_default *>(m)->m.insert_or_assign(k, v);
    return r.second ? MB_INSERTED : MB_REPLACED;
}
int bvt_lookup(void *m, const void *key, void *val_out)
{
    uint64_t k;
    memcpy(&k, key, 8);
    auto &mm = static_cast<boost_default *>(m)->m;
    auto it = mm.find(k);
    if (it == mm.end())
        return MB_NOTFOUND;
    if (val_out)
        memcpy(val_out, &it->second, 8);
    return MB_FOUND;
}
int bvt_remove(void *m, const void *key)
{
    uint64_t k;
    memcpy(&k, key, 8);
    return static_cast<boost_default *>(m)->m.erase(k) ? MB_FOUND : MB_NOTFOUND;
}
void bvt_stats(const void *m, mb_map_stats *out)
{
    mb_stats_init(out);
    out->count = static_cast<const boost_default *>(m)->m.size();
}
const mb_map_ops boost_vt_ops = {"boost_vt", "peer", "", 0, bvt_create, bvt_destroy, bvt_insert,
                                 bvt_lookup, bvt_remove, nullptr, nullptr, bvt_stats, nullptr};
struct boost_vt : vtable_map {
    boost_vt() : vtable_map(&boost_vt_ops) {}
    size_t bytes() const { return (size_t)static_cast<const boost_default *>(m)->bc.live; }
};

const char *const all_maps[] = {"flat15", "swiss", "boost_xmx", "boost_mb", "flat15_inline",
                                "boost_vt"};
const size_t n_all_maps = 6;

result run_named(const std::string &name, const keyset &k, size_t rounds, int icount_phase)
{
    if (name == "flat15")
        return run_map<flat15_vt>("flat15", k, rounds, icount_phase);
    if (name == "swiss")
        return run_map<swiss_vt>("swiss", k, rounds, icount_phase);
    if (name == "boost_xmx")
        return run_map<boost_default>("boost_xmx", k, rounds, icount_phase);
    if (name == "boost_mb")
        return run_map<boost_map<mb_hasher>>("boost_mb", k, rounds, icount_phase);
    if (name == "flat15_inline")
        return run_map<flat15_inline>("flat15_inline", k, rounds, icount_phase);
    if (name == "boost_vt")
        return run_map<boost_vt>("boost_vt", k, rounds, icount_phase);
    fprintf(stderr, "flagship: unknown map '%s'\n", name.c_str());
    exit(2);
}

/* ---- bytes per entry across N ------------------------------------------------------
 *
 * Capacity grows in steps, so bytes/entry at one N says more about where
 * that N falls between two steps than about the design.  --mem-sweep
 * inserts N keys (no hint) for `points` values of N spread evenly in log N
 * over [lo, hi] and prints each map's bytes/entry and the geometric mean. */

template <class M> double bytes_per_entry_at(const keyset &k, size_t n)
{
    M m;
    if (m.insert_all(k.ins.data(), n) != n)
        fail("mem-sweep", "insert", n, "not every key was new");
    return (double)m.bytes() / (double)n;
}

double bytes_named(const std::string &name, const keyset &k, size_t n)
{
    if (name == "flat15")
        return bytes_per_entry_at<flat15_vt>(k, n);
    if (name == "swiss")
        return bytes_per_entry_at<swiss_vt>(k, n);
    if (name == "boost_xmx" || name == "boost_mb" || name == "boost_vt")
        return bytes_per_entry_at<boost_default>(k, n);
    if (name == "flat15_inline")
        return bytes_per_entry_at<flat15_inline>(k, n);
    fprintf(stderr, "flagship: unknown map '%s'\n", name.c_str());
    exit(2);
}

void mem_sweep(const std::vector<std::string> &maps, size_t lo, size_t hi, size_t points)
{
    keyset k(hi);
    std::vector<double> log_sum(maps.size(), 0.0);
    printf("# bytes/entry after inserting N keys (no hint), %zu points, log-spaced\n%10s", points,
           "N");
    for (auto &m : maps)
        printf(" %10s", m.c_str());
    printf("\n");
    for (size_t i = 0; i < points; i++) {
        double f = points > 1 ? (double)i / (double)(points - 1) : 0.0;
        size_t n = (size_t)(std::exp(std::log((double)lo) * (1 - f) + std::log((double)hi) * f));
        printf("%10zu", n);
        for (size_t j = 0; j < maps.size(); j++) {
            double b = bytes_named(maps[j], k, n);
            log_sum[j] += std::log(b);
            printf(" %10.2f", b);
        }
        printf("\n");
        fflush(stdout);
    }
    printf("%10s", "geomean");
    for (size_t j = 0; j < maps.size(); j++)
        printf(" %10.2f", std::exp(log_sum[j] / (double)points));
    printf("\n");
}

/* ---- command line ------------------------------------------------------------------ */

void usage(FILE *f)
{
    fprintf(f, "usage: mb_flagship_bench [--n 1e3,1e5,1e6,1e7] [--reps R] [--wall] "
               "[--maps flat15,swiss,boost_xmx,boost_mb,flat15_inline,boost_vt]\n"
               "       mb_flagship_bench --icount MAP PHASE N   (PHASE: insert|hit|miss|delete)\n"
               "       mb_flagship_bench --mem-sweep LO HI POINTS [--maps a,b,...]\n");
}

[[noreturn]] void usage_error(const char *what)
{
    fprintf(stderr, "mb_flagship_bench: %s\n", what);
    usage(stderr);
    exit(2);
}

size_t parse_count(const char *s)
{
    char *end;
    double d = strtod(s, &end);
    if (end == s || *end || d < 1 || d > 1e9)
        usage_error("a size must be a number from 1 to 1e9");
    return (size_t)d;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    size_t k = v.size();
    return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

} // namespace

int main(int argc, char **argv)
{
    std::vector<size_t> sizes = {1000, 100000, 1000000, 10000000};
    std::vector<std::string> maps(all_maps, all_maps + n_all_maps);
    size_t reps = 5;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            usage(stdout);
            return 0;
        } else if (a == "--icount") {
            if (i + 3 >= argc)
                usage_error("--icount needs MAP PHASE N");
            std::string map = argv[i + 1], ph = argv[i + 2];
            int p = -1;
            for (int j = 0; j < P_COUNT; j++)
                if (ph == phase_names[j])
                    p = j;
            if (p < 0)
                usage_error("unknown phase");
            size_t n = parse_count(argv[i + 3]);
            keyset k(n);
            run_named(map, k, 1, p);
            printf("ops %zu\n", n);
            return 0;
        } else if (a == "--mem-sweep") {
            if (i + 3 >= argc)
                usage_error("--mem-sweep needs LO HI POINTS");
            size_t lo = parse_count(argv[i + 1]), hi = parse_count(argv[i + 2]);
            size_t points = parse_count(argv[i + 3]);
            if (lo > hi)
                usage_error("--mem-sweep: LO > HI");
            std::vector<std::string> sweep_maps = {"flat15", "swiss", "boost_xmx"};
            for (int j = i + 4; j + 1 < argc; j++)
                if (std::string(argv[j]) == "--maps")
                    sweep_maps = bench_split_commas(argv[j + 1]);
            mem_sweep(sweep_maps, lo, hi, points);
            return 0;
        } else if (a == "--n" && i + 1 < argc) {
            sizes.clear();
            for (auto &s : bench_split_commas(argv[++i]))
                sizes.push_back(parse_count(s.c_str()));
        } else if (a == "--wall") {
            bench_clock = CLOCK_MONOTONIC;
        } else if (a == "--reps" && i + 1 < argc) {
            reps = parse_count(argv[++i]);
        } else if (a == "--maps" && i + 1 < argc) {
            maps = bench_split_commas(argv[++i]);
        } else {
            usage_error(("unknown argument '" + a + "'").c_str());
        }
    }
    printf("# Boost %d.%d, reps %zu, %s; ns/op median [min..max]; B/entry after insert\n",
           BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, reps,
           bench_clock == CLOCK_MONOTONIC ? "wall clock" : "thread CPU time");
    for (size_t n : sizes) {
        keyset k(n);
        size_t rounds = std::max<size_t>(1, 2000000 / n);
        /* res[map][rep] */
        std::vector<std::vector<result>> res(maps.size());
        for (size_t r = 0; r < reps; r++)
            for (size_t j = 0; j < maps.size(); j++) {
                size_t mi = (j + r) % maps.size();
                res[mi].push_back(run_named(maps[mi], k, rounds, -1));
            }
        printf("\nN=%zu (rounds %zu)\n%-10s", n, rounds, "map");
        for (int p = 0; p < P_COUNT; p++)
            printf(" %22s", phase_names[p]);
        printf(" %8s %9s\n", "B/entry", "flt/kins");
        for (size_t mi = 0; mi < maps.size(); mi++) {
            printf("%-10s", maps[mi].c_str());
            for (int p = 0; p < P_COUNT; p++) {
                std::vector<double> v;
                for (auto &x : res[mi])
                    v.push_back(x.ns[p]);
                printf(" %7.2f [%6.2f..%6.2f]", median(v), *std::min_element(v.begin(), v.end()),
                       *std::max_element(v.begin(), v.end()));
            }
            std::vector<double> fl;
            for (auto &x : res[mi])
                fl.push_back(x.insert_faults_per_kop);
            printf(" %8.2f %9.1f\n", res[mi][0].bytes_per_entry, median(fl));
        }
        /* paired ratios of every map against each boost variant present */
        for (size_t bi = 0; bi < maps.size(); bi++) {
            if (maps[bi].rfind("boost", 0) != 0)
                continue;
            for (size_t mi = 0; mi < maps.size(); mi++) {
                if (maps[mi].rfind("boost", 0) == 0)
                    continue;
                printf("%s/%s", maps[mi].c_str(), maps[bi].c_str());
                for (int p = 0; p < P_COUNT; p++) {
                    std::vector<double> v;
                    for (size_t r = 0; r < reps; r++)
                        v.push_back(res[mi][r].ns[p] / res[bi][r].ns[p]);
                    printf("  %s %.3f [%.3f..%.3f]", phase_names[p], median(v),
                           *std::min_element(v.begin(), v.end()),
                           *std::max_element(v.begin(), v.end()));
                }
                printf("  bytes %.3f\n", res[mi][0].bytes_per_entry / res[bi][0].bytes_per_entry);
            }
        }
        fflush(stdout);
    }
    return 0;
}
