/*
 * arena — entries in an arena of mmap'd chunks, found through a compact index.
 *
 * The map this suite uses to show the other end of "does memory come back":
 * nothing is released on delete, and EVERYTHING is released on clear.
 *
 * Layout:
 *   arena   entries of entry_bytes = key_bytes + val_bytes (packed, unaligned:
 *           keys and values are read with memcpy), numbered 0, 1, 2, ...
 *           in chunks.  Chunks are allocated through mb_alloc with
 *           align = MB_PAGE_BYTES, which the counting allocator serves
 *           straight from mmap and munmaps on free: a freed chunk's pages go
 *           back to the OS, whatever the malloc in use does.
 *   dir     the chunk directory: one pointer per SEGMENT of seg_entries
 *           entries (a power of two).  Every chunk is a whole number of
 *           segments, so entry e is at
 *               dir[e >> seg_shift] + (e & (seg_entries - 1)) * entry_bytes
 *           (one load from a small, hot array; no division, no search).
 *   index   open addressing, linear probing, cap a power of two (or 0 = not
 *           allocated).  A slot is 8 bytes: { h32, entry } where h32 is the
 *           low 32 bits of the key's hash and entry is the arena index
 *           (CA_EMPTY = UINT32_MAX marks an empty slot).  h32 gives the home
 *           slot (h32 & (cap - 1)), so growing the index never touches the
 *           arena, and it filters probes: a key is compared only when h32
 *           matches.  Entry numbers and cap are therefore below 2^32.
 *
 * Chunk sizes: seg_entries is the smallest power of two whose entries fill
 * >= CA_CHUNK_MIN_BYTES (64 KiB); chunk k holds seg_entries << k entries,
 * doubling until the next doubling would pass CA_CHUNK_MAX_BYTES (2 MiB), then
 * stays at that size (so chunks run from 64..128 KiB up to 1..2 MiB; for
 * u64 -> u64, exactly 64 KiB to 2 MiB).  Why: a chunk is one mmap + munmap
 * (a few microseconds each), so 64 KiB (4096 u64 entries) keeps that cost
 * per entry negligible while a small map maps little; doubling keeps the
 * number of chunks logarithmic while the map is small; the 2 MiB cap bounds
 * the untouched tail of the newest chunk (which costs address space and
 * counted bytes but, being lazily faulted, no RSS) and keeps each munmap
 * bounded.  All chunk sizes are whole pages (rounded up).
 *
 * Entry slots: an insert takes the head of the free list (LIFO), else the
 * next never-used slot (carved++), else maps a new chunk.  A free slot keeps
 * the next free entry number (uint32, CA_NONE ends the list) in its first 4
 * bytes.
 *
 * Probe rule: from the home slot step +1 (wrapping) until the key or an empty
 * slot.  Max load 3/4 (grow = double before count would pass it): with 8-byte
 * slots a lower load costs little memory (10.7..21.3 index bytes per entry)
 * and keeps linear probing short (expected ~2.5 slots for a hit, ~8.5 for a
 * miss, Knuth), where 7/8 would mean ~32 for a miss.
 *
 * Delete: backward-shift deletion in the index (no tombstones), and the entry
 * slot goes on the arena's free list.  Nothing is released to the OS or to
 * the allocator on delete — by design.  The shrink policy is NOT supported
 * (no MB_F_SHRINK): only clear() and destroy give memory back.
 *
 * clear(): frees every chunk (munmap), the directory and the index; the map
 * then holds only its header (sizeof(ca_map) bytes) and the next insert
 * starts again from the minimum sizes.  Cost O(chunks), independent of the
 * entry count, and it cannot fail (it allocates nothing).
 *
 * Index memory: an index table of >= CA_INDEX_MMAP_BYTES (64 KiB) is also
 * requested with align = MB_PAGE_BYTES, so it too comes from mmap and its
 * pages really go back to the OS when clear() or a grow frees it (glibc's
 * dynamic mmap threshold could otherwise leave a freed table in the brk heap
 * and in RSS).  Smaller tables use ordinary align-8 allocations.
 *
 * capacity_hint sizes the index at create (the arena still starts empty).
 *
 * On ENOMEM an insert leaves the same entries; it may have grown the index or
 * the directory (valid, and freed by clear/destroy like the rest).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../mb_map.h"

#define CA_MIN_CAP 8u                          /* smallest allocated index */
#define CA_CHUNK_MIN_BYTES (64u * 1024u)       /* first chunk >= this */
#define CA_CHUNK_MAX_BYTES (2u * 1024u * 1024u) /* chunks stop doubling at <= this */
#define CA_INDEX_MMAP_BYTES (64u * 1024u)      /* index tables this big come from mmap */
#define CA_DIR_MIN 16u                         /* first directory: 16 segments */
#define CA_EMPTY UINT32_MAX                    /* index slot holds no entry */
#define CA_NONE UINT32_MAX                     /* end of the arena free list */
#define CA_MAX_ENTRIES ((size_t)UINT32_MAX)    /* entry numbers are < UINT32_MAX */
#define CA_MAX_CAP ((size_t)1 << 32)           /* home slot comes from 32 hash bits */

typedef struct ca_slot {
    uint32_t h32;    /* low 32 bits of the key's hash */
    uint32_t entry;  /* arena entry number, or CA_EMPTY */
} ca_slot;

typedef struct ca_map {
    mb_alloc alloc;
    size_t key_bytes, val_bytes, entry_bytes;
    uint64_t seed;
    /* index */
    ca_slot *index;          /* cap slots, or NULL when cap == 0 */
    size_t cap;              /* 0 or a power of two >= CA_MIN_CAP */
    size_t count;            /* live entries = occupied index slots */
    /* arena */
    unsigned char **dir;     /* dir_len segment bases, room for dir_cap */
    size_t dir_len, dir_cap;
    unsigned seg_shift;      /* seg_entries = 1 << seg_shift */
    unsigned chunk_max_log2; /* chunk k holds seg_entries << min(k, chunk_max_log2) */
    size_t nchunks;
    size_t chunk_bytes;      /* bytes of all chunks */
    size_t carved;           /* entries ever handed out: [0, carved) are live or free */
    uint32_t free_head;      /* first free entry, or CA_NONE */
    size_t free_count;       /* entries on the free list */
    size_t grow_events;
} ca_map;

/* ---- layout ------------------------------------------------------------- */

static size_t ca_seg_entries(const ca_map *m)
{
    return (size_t)1 << m->seg_shift;
}

static unsigned char *ca_entry(const ca_map *m, uint32_t e)
{
    return m->dir[e >> m->seg_shift] + (size_t)(e & (ca_seg_entries(m) - 1)) * m->entry_bytes;
}

/* Segments in chunk k. */
static size_t ca_chunk_segs(const ca_map *m, size_t k)
{
    return (size_t)1 << (k < m->chunk_max_log2 ? k : m->chunk_max_log2);
}

static size_t ca_chunk_bytes_for(const ca_map *m, size_t segs)
{
    size_t bytes = segs * ca_seg_entries(m) * m->entry_bytes;
    return (bytes + MB_PAGE_BYTES - 1) & ~(size_t)(MB_PAGE_BYTES - 1);
}

static size_t ca_max_count(size_t cap)
{
    return cap - cap / 4;
}

/* Smallest index capacity holding n entries under the max load. */
static size_t ca_cap_for(size_t n)
{
    size_t cap = CA_MIN_CAP;
    while (ca_max_count(cap) < n)
        cap *= 2;
    return cap;
}

static size_t ca_index_align(size_t cap)
{
    return cap * sizeof(ca_slot) >= CA_INDEX_MMAP_BYTES ? MB_PAGE_BYTES : _Alignof(ca_slot);
}

static ca_slot *ca_index_new(ca_map *m, size_t cap)
{
    ca_slot *t = mb_alloc_bytes(&m->alloc, cap * sizeof *t, ca_index_align(cap));
    if (t)
        memset(t, 0xff, cap * sizeof *t); /* entry = CA_EMPTY */
    return t;
}

static void ca_index_free(ca_map *m, ca_slot *t, size_t cap)
{
    if (t)
        mb_free_bytes(&m->alloc, t, cap * sizeof *t, ca_index_align(cap));
}

/* ---- probe -------------------------------------------------------------- */

/* Returns the index slot holding key, or SIZE_MAX.  PRECONDITION: cap > 0. */
static size_t ca_find(const ca_map *m, const void *key, uint32_t h32)
{
    size_t mask = m->cap - 1;
    for (size_t i = h32 & mask;; i = (i + 1) & mask) {
        ca_slot s = m->index[i];
        if (s.entry == CA_EMPTY)
            return SIZE_MAX;
        if (s.h32 == h32 && mb_key_eq(ca_entry(m, s.entry), key, m->key_bytes))
            return i;
    }
}

/* Returns the first empty slot on h32's probe sequence.
 * PRECONDITION: the table has an empty slot. */
static size_t ca_find_empty(const ca_slot *t, size_t cap, uint32_t h32)
{
    size_t mask = cap - 1, i = h32 & mask;
    while (t[i].entry != CA_EMPTY)
        i = (i + 1) & mask;
    return i;
}

/* ---- grow ----------------------------------------------------------------- */

/* Rebuilds the index at new_cap from the slots alone (h32 gives the home).
 * Returns 0, or MB_ENOMEM with the map unchanged. */
static int ca_index_resize(ca_map *m, size_t new_cap)
{
    if (new_cap > CA_MAX_CAP)
        return MB_ENOMEM;
    ca_slot *t = ca_index_new(m, new_cap);
    if (!t)
        return MB_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->index[i].entry != CA_EMPTY)
            t[ca_find_empty(t, new_cap, m->index[i].h32)] = m->index[i];
    ca_index_free(m, m->index, m->cap);
    if (m->cap)
        m->grow_events++;
    m->index = t;
    m->cap = new_cap;
    return 0;
}

/* Makes room in the index for one more entry.  Returns 0 or MB_ENOMEM
 * (unchanged). */
static int ca_index_reserve_one(ca_map *m)
{
    if (m->cap && m->count + 1 <= ca_max_count(m->cap))
        return 0;
    return ca_index_resize(m, m->cap ? m->cap * 2 : CA_MIN_CAP);
}

/* Makes the directory hold at least n segments.  Returns 0 or MB_ENOMEM
 * (unchanged). */
static int ca_dir_reserve(ca_map *m, size_t n)
{
    if (n <= m->dir_cap)
        return 0;
    size_t cap = m->dir_cap ? m->dir_cap : CA_DIR_MIN;
    while (cap < n)
        cap *= 2;
    unsigned char **d = mb_alloc_bytes(&m->alloc, cap * sizeof *d, _Alignof(unsigned char *));
    if (!d)
        return MB_ENOMEM;
    if (m->dir_len)
        memcpy(d, m->dir, m->dir_len * sizeof *d);
    mb_free_bytes(&m->alloc, m->dir, m->dir_cap * sizeof *m->dir, _Alignof(unsigned char *));
    m->dir = d;
    m->dir_cap = cap;
    return 0;
}

/* Maps the next chunk and appends its segments to the directory.
 * Returns 0, or MB_ENOMEM with the same entries (the directory may have grown). */
static int ca_add_chunk(ca_map *m)
{
    size_t segs = ca_chunk_segs(m, m->nchunks);
    if ((m->dir_len + segs) * ca_seg_entries(m) > CA_MAX_ENTRIES)
        return MB_ENOMEM;
    if (ca_dir_reserve(m, m->dir_len + segs) != 0)
        return MB_ENOMEM;
    size_t bytes = ca_chunk_bytes_for(m, segs);
    unsigned char *c = mb_alloc_bytes(&m->alloc, bytes, MB_PAGE_BYTES);
    if (!c)
        return MB_ENOMEM;
    for (size_t s = 0; s < segs; s++)
        m->dir[m->dir_len + s] = c + s * ca_seg_entries(m) * m->entry_bytes;
    m->dir_len += segs;
    m->nchunks++;
    m->chunk_bytes += bytes;
    return 0;
}

/* Frees every chunk and the directory; the arena is empty afterwards. */
static void ca_free_arena(ca_map *m)
{
    size_t seg = 0;
    for (size_t k = 0; k < m->nchunks; k++) {
        size_t segs = ca_chunk_segs(m, k);
        mb_free_bytes(&m->alloc, m->dir[seg], ca_chunk_bytes_for(m, segs), MB_PAGE_BYTES);
        seg += segs;
    }
    mb_free_bytes(&m->alloc, m->dir, m->dir_cap * sizeof *m->dir, _Alignof(unsigned char *));
    m->dir = NULL;
    m->dir_len = m->dir_cap = m->nchunks = m->chunk_bytes = m->carved = 0;
    m->free_head = CA_NONE;
    m->free_count = 0;
}

/* ---- entry slots ---------------------------------------------------------- */

/* Sets *e to an entry slot for a new entry.  Returns 0, or MB_ENOMEM when a
 * chunk was needed and could not be mapped (same entries). */
static int ca_take_entry(ca_map *m, uint32_t *e)
{
    if (m->free_head != CA_NONE) {
        *e = m->free_head;
        memcpy(&m->free_head, ca_entry(m, *e), sizeof m->free_head);
        m->free_count--;
        return 0;
    }
    if (m->carved == m->dir_len * ca_seg_entries(m) && ca_add_chunk(m) != 0)
        return MB_ENOMEM;
    *e = (uint32_t)m->carved++;
    return 0;
}

static void ca_give_entry(ca_map *m, uint32_t e)
{
    memcpy(ca_entry(m, e), &m->free_head, sizeof m->free_head);
    m->free_head = e;
    m->free_count++;
}

/* ---- ops ------------------------------------------------------------------ */

static void *ca_create(const mb_alloc *a, const mb_map_config *cfg)
{
    ca_map *m = mb_alloc_bytes(a, sizeof *m, _Alignof(ca_map));
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->alloc = *a;
    m->key_bytes = cfg->key_bytes;
    m->val_bytes = cfg->val_bytes;
    m->entry_bytes = cfg->key_bytes + cfg->val_bytes;
    m->seed = cfg->seed;
    m->free_head = CA_NONE;
    while (((size_t)1 << m->seg_shift) * m->entry_bytes < CA_CHUNK_MIN_BYTES)
        m->seg_shift++;
    while ((ca_seg_entries(m) << (m->chunk_max_log2 + 1)) * m->entry_bytes <= CA_CHUNK_MAX_BYTES)
        m->chunk_max_log2++;
    if (cfg->capacity_hint && ca_index_resize(m, ca_cap_for(cfg->capacity_hint)) != 0) {
        mb_free_bytes(a, m, sizeof *m, _Alignof(ca_map));
        return NULL;
    }
    return m;
}

static void ca_destroy(void *mp)
{
    ca_map *m = mp;
    mb_alloc a = m->alloc;
    ca_free_arena(m);
    ca_index_free(m, m->index, m->cap);
    mb_free_bytes(&a, m, sizeof *m, _Alignof(ca_map));
}

static int ca_insert(void *mp, const void *key, const void *val)
{
    ca_map *m = mp;
    uint32_t h32 = (uint32_t)mb_hash_key(key, m->key_bytes, m->seed), e;
    if (m->count) {
        size_t i = ca_find(m, key, h32);
        if (i != SIZE_MAX) {
            memcpy(ca_entry(m, m->index[i].entry) + m->key_bytes, val, m->val_bytes);
            return MB_REPLACED;
        }
    }
    if (ca_index_reserve_one(m) != 0 || ca_take_entry(m, &e) != 0)
        return MB_ENOMEM;
    unsigned char *p = ca_entry(m, e);
    memcpy(p, key, m->key_bytes);
    memcpy(p + m->key_bytes, val, m->val_bytes);
    size_t i = ca_find_empty(m->index, m->cap, h32);
    m->index[i].h32 = h32;
    m->index[i].entry = e;
    m->count++;
    return MB_INSERTED;
}

static int ca_lookup(void *mp, const void *key, void *val_out)
{
    ca_map *m = mp;
    if (m->count == 0)
        return MB_NOTFOUND;
    size_t i = ca_find(m, key, (uint32_t)mb_hash_key(key, m->key_bytes, m->seed));
    if (i == SIZE_MAX)
        return MB_NOTFOUND;
    if (val_out)
        memcpy(val_out, ca_entry(m, m->index[i].entry) + m->key_bytes, m->val_bytes);
    return MB_FOUND;
}

/* Empties index slot i and shifts later members of its cluster back, so no
 * probe sequence is broken and no tombstone is needed. */
static void ca_index_delete(ca_map *m, size_t i)
{
    size_t mask = m->cap - 1;
    for (size_t j = (i + 1) & mask; m->index[j].entry != CA_EMPTY; j = (j + 1) & mask) {
        size_t home = m->index[j].h32 & mask;
        /* slot j may move to i when its home is not in (i, j] cyclically */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->index[i] = m->index[j];
            i = j;
        }
    }
    m->index[i].entry = CA_EMPTY;
}

static int ca_remove(void *mp, const void *key)
{
    ca_map *m = mp;
    if (m->count == 0)
        return MB_NOTFOUND;
    size_t i = ca_find(m, key, (uint32_t)mb_hash_key(key, m->key_bytes, m->seed));
    if (i == SIZE_MAX)
        return MB_NOTFOUND;
    ca_give_entry(m, m->index[i].entry);
    ca_index_delete(m, i);
    m->count--;
    return MB_FOUND;
}

/* Gives every chunk, the directory and the index back; keeps the header. */
static void ca_clear(void *mp)
{
    ca_map *m = mp;
    ca_free_arena(m);
    ca_index_free(m, m->index, m->cap);
    m->index = NULL;
    m->cap = 0;
    m->count = 0;
}

static int ca_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    ca_map *m = mp;
    int r = 0;
    for (size_t i = 0; i < m->cap && r == 0; i++) {
        if (m->index[i].entry == CA_EMPTY)
            continue;
        const unsigned char *p = ca_entry(m, m->index[i].entry);
        r = fn(ud, p, p + m->key_bytes);
    }
    return r;
}

static void ca_stats(const void *mp, mb_map_stats *out)
{
    const ca_map *m = mp;
    size_t total = 0, mask = m->cap ? m->cap - 1 : 0;
    mb_stats_init(out);
    out->count = m->count;
    out->capacity = m->cap;
    out->max_probe = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->index[i].entry == CA_EMPTY)
            continue;
        size_t len = ((i - (m->index[i].h32 & mask)) & mask) + 1;
        total += len;
        if (len > out->max_probe)
            out->max_probe = len;
    }
    out->mean_probe = m->count ? (double)total / (double)m->count : 0.0;
    out->grow_events = m->grow_events;
    out->shrink_events = 0;
    out->rehash_events = 0;
    out->bytes = sizeof *m + m->cap * sizeof(ca_slot) + m->dir_cap * sizeof *m->dir +
                 m->chunk_bytes;
}

/* ---- check ---------------------------------------------------------------- */

static const char *ca_check_arena(const ca_map *m)
{
    size_t segs = 0, bytes = 0;
    for (size_t k = 0; k < m->nchunks; k++) {
        segs += ca_chunk_segs(m, k);
        bytes += ca_chunk_bytes_for(m, ca_chunk_segs(m, k));
    }
    if (segs != m->dir_len || m->dir_len > m->dir_cap)
        return "directory length does not match the chunks";
    if (bytes != m->chunk_bytes)
        return "chunk_bytes does not match the chunks";
    if ((m->dir_cap == 0) != (m->dir == NULL))
        return "directory pointer and capacity disagree";
    if (m->carved > m->dir_len * ca_seg_entries(m))
        return "more entries carved than the chunks hold";
    if (ca_chunk_bytes_for(m, 1) < CA_CHUNK_MIN_BYTES ||
        ca_chunk_bytes_for(m, ca_chunk_segs(m, m->chunk_max_log2)) > CA_CHUNK_MAX_BYTES)
        return "chunk sizes are outside [CA_CHUNK_MIN_BYTES, CA_CHUNK_MAX_BYTES]";
    return NULL;
}

static const char *ca_check(const void *mp)
{
    const ca_map *m = mp;
    const char *why;
    size_t live = 0, nfree = 0;
    uint64_t fp = 0, want_fp = 0;

    if (m->cap == 0) {
        if (m->index || m->count)
            return "no index but an index pointer or entries";
    } else if (m->cap < CA_MIN_CAP || (m->cap & (m->cap - 1)) || !m->index) {
        return "index capacity is not a power of two >= CA_MIN_CAP";
    } else if (m->count > ca_max_count(m->cap)) {
        return "count exceeds the max load";
    }
    if ((why = ca_check_arena(m)))
        return why;

    size_t mask = m->cap ? m->cap - 1 : 0;
    for (size_t i = 0; i < m->cap; i++) {
        ca_slot s = m->index[i];
        if (s.entry == CA_EMPTY)
            continue;
        live++;
        if (s.entry >= m->carved)
            return "an index slot names an entry that was never carved";
        const unsigned char *k = ca_entry(m, s.entry);
        if (s.h32 != (uint32_t)mb_hash_key(k, m->key_bytes, m->seed))
            return "an index slot's h32 is not its entry's hash (entry freed or overwritten?)";
        for (size_t j = s.h32 & mask; j != i; j = (j + 1) & mask)
            if (m->index[j].entry == CA_EMPTY)
                return "an empty slot lies between a key's home and its slot";
        if (ca_find(m, k, s.h32) != i)
            return "a key (or an entry) is indexed twice";
        fp += mb_hash_u64(s.entry, 0);
    }
    if (live != m->count)
        return "count does not match occupied index slots";

    for (uint32_t e = m->free_head; e != CA_NONE;) {
        if (++nfree > m->free_count)
            return "more free entries than free_count (or a cycle)";
        if (e >= m->carved)
            return "a free entry was never carved";
        fp += mb_hash_u64(e, 0);
        memcpy(&e, ca_entry(m, e), sizeof e);
    }
    if (nfree != m->free_count)
        return "free_count does not match the free list";
    if (m->count + m->free_count != m->carved)
        return "live + free entries != carved entries";
    /* Same size and the same sum of a bijective hash of the numbers: live and
     * free are exactly {0 .. carved-1}, so no entry is both live and free and
     * none is lost (a single overlap always changes the sum). */
    for (size_t e = 0; e < m->carved; e++)
        want_fp += mb_hash_u64(e, 0);
    if (fp != want_fp)
        return "live and free entries overlap (some entry is lost)";
    return NULL;
}

const mb_map_ops mb_arena_ops = {
    .name = "arena",
    .family = "arena",
    .traits = "mmap-chunks,u32-index,no-tombstones,backward-shift-delete,delete-keeps-memory,"
              "clear-frees-all,no-shrink",
    .flags = MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_OWN_ALLOC,
    .create = ca_create,
    .destroy = ca_destroy,
    .insert = ca_insert,
    .lookup = ca_lookup,
    .remove = ca_remove,
    .clear = ca_clear,
    .iterate = ca_iterate,
    .stats = ca_stats,
    .check = ca_check,
};
