/*
 * mb_std_alloc.hpp — a C++ std allocator over a map's mb_alloc, shared by the
 * C++ peers that take an allocator: mb_std_allocator for the single-threaded
 * ones (absl.cc, boost_flat.cc, dense_hash.cc, sparse_hash.cc) and
 * mb_atomic_std_allocator, whose byte count is atomic, for the concurrent
 * ones (cuckoo.cc, tbb.cc: the library allocates from any writer thread).
 *
 * mb_std_state is what every rebound copy of the allocator points at: the
 * map's mb_alloc and the live bytes the library holds through it, so stats()
 * can report the library's bytes exactly.  allocate() throws std::bad_alloc
 * when mb_alloc returns NULL (failure injection included); the adapters catch
 * it and return MB_ENOMEM.
 */
#ifndef MB_STD_ALLOC_HPP
#define MB_STD_ALLOC_HPP

extern "C" {
#include "../mb_map.h"
}

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

struct mb_std_state {
    mb_alloc alloc;
    size_t table_bytes;  /* live bytes the library holds through mb_std_allocator */
    size_t alloc_calls;  /* successful allocate() calls, for the adapters' checks */
};

template <class T>
struct mb_std_allocator {
    using value_type = T;
    /* sparsehash's allocator_traits-less code reads these typedefs directly. */
    using pointer = T *;
    using const_pointer = const T *;
    using reference = T &;
    using const_reference = const T &;
    using size_type = size_t;
    using difference_type = ptrdiff_t;
    template <class U>
    struct rebind {
        using other = mb_std_allocator<U>;
    };

    mb_std_state *st;

    explicit mb_std_allocator(mb_std_state *s) noexcept : st(s) {}
    template <class U>
    mb_std_allocator(const mb_std_allocator<U> &o) noexcept : st(o.st) {}

    /* Returns n objects' worth of storage; throws std::bad_alloc on NULL. */
    T *allocate(size_t n)
    {
        size_t bytes = n * sizeof(T);
        void *p = mb_alloc_bytes(&st->alloc, bytes, alignof(T));
        if (!p)
            throw std::bad_alloc();
        st->table_bytes += bytes;
        st->alloc_calls++;
        return static_cast<T *>(p);
    }

    /* PRECONDITION: p came from allocate(n) of an allocator over the same state. */
    void deallocate(T *p, size_t n) noexcept
    {
        if (!p)
            return;
        st->table_bytes -= n * sizeof(T);
        mb_free_bytes(&st->alloc, p, n * sizeof(T), alignof(T));
    }

    /* sparsehash calls these (pre-C++11 allocator interface). */
    size_t max_size() const noexcept { return SIZE_MAX / sizeof(T); }
    template <class U, class... A>
    void construct(U *p, A &&...a)
    {
        ::new (static_cast<void *>(p)) U(static_cast<A &&>(a)...);
    }
    template <class U>
    void destroy(U *p)
    {
        p->~U();
    }

    template <class U>
    bool operator==(const mb_std_allocator<U> &o) const noexcept { return st == o.st; }
    template <class U>
    bool operator!=(const mb_std_allocator<U> &o) const noexcept { return st != o.st; }
};

/* What every rebound copy of mb_atomic_std_allocator points at; the byte
 * count is relaxed-atomic (read by stats() once the writers are done). */
struct mb_atomic_std_state {
    mb_alloc alloc;
    std::atomic<size_t> table_bytes{0}; /* live bytes the library holds through it */
};

/* mb_std_allocator for a library that allocates from several threads: the
 * same calls, the byte count kept with relaxed atomics.  The mb_alloc itself
 * must be thread-safe (the concurrent maps' contract). */
template <class T>
struct mb_atomic_std_allocator {
    using value_type = T;
    mb_atomic_std_state *st;

    explicit mb_atomic_std_allocator(mb_atomic_std_state *s) noexcept : st(s) {}
    template <class U>
    mb_atomic_std_allocator(const mb_atomic_std_allocator<U> &o) noexcept : st(o.st) {}

    /* Returns n objects' worth of storage; throws std::bad_alloc on NULL. */
    T *allocate(size_t n)
    {
        size_t bytes = n * sizeof(T);
        void *p = mb_alloc_bytes(&st->alloc, bytes, alignof(T));
        if (!p)
            throw std::bad_alloc();
        st->table_bytes.fetch_add(bytes, std::memory_order_relaxed);
        return static_cast<T *>(p);
    }

    /* PRECONDITION: p came from allocate(n) of an allocator over the same state. */
    void deallocate(T *p, size_t n) noexcept
    {
        st->table_bytes.fetch_sub(n * sizeof(T), std::memory_order_relaxed);
        mb_free_bytes(&st->alloc, p, n * sizeof(T), alignof(T));
    }

    template <class U>
    bool operator==(const mb_atomic_std_allocator<U> &o) const noexcept { return st == o.st; }
    template <class U>
    bool operator!=(const mb_atomic_std_allocator<U> &o) const noexcept { return st != o.st; }
};

/* A 64-byte value and fixed-length string keys, as the blueprints need them. */
struct mb_val64 {
    unsigned char b[64];
};

template <class T>
static inline T mb_load(const void *p)
{
    T x;
    std::memcpy(&x, p, sizeof x);
    return x;
}

#endif
