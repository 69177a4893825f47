/*
 * gomap — a C model of Go 1.19's classic runtime map.
 *
 * Held against /usr/share/go-1.19/src/runtime/map.go and map_fast64.go
 * (Debian golang-1.19-src).  Go's names are kept: the hmap fields (count, B,
 * noverflow, hash0, buckets, oldbuckets, nevacuate, extra.overflow /
 * oldoverflow / nextOverflow), the constants, and the functions, which carry
 * the gm_ prefix of this file (gm_hashGrow is hashGrow, gm_evacuate is
 * evacuate ...), so grep finds both sides.
 *
 * Layout (map.go "A bucket for a Go map"): a bucket (bmap) is
 *
 *     tophash[bucketCnt]  8 bytes, one per slot: a state or the hash's top byte
 *     keys[bucketCnt]     8 * key_bytes
 *     elems[bucketCnt]    8 * val_bytes
 *     overflow            pointer to the next bucket of the chain, or NULL
 *
 * so bucketsize = 8 + 8*key_bytes + 8*val_bytes + 8 (144 bytes for u64->u64).
 * Go stores keys or elems larger than maxKeySize / maxElemSize (128 bytes)
 * indirectly; ours are at most 48 / 64 bytes, so everything is inline, as Go
 * would have it for these types.  The bucket array holds 2^B buckets, and for
 * B >= 4 makeBucketArray appends 2^(B-4) preallocated overflow buckets,
 * rounded up to fill Go's malloc size class (roundupsize, size classes from
 * runtime/sizeclasses.go; page-rounded above 32 KiB; go_malloc.h).  Overflow buckets come
 * from that tail first (extra.nextOverflow; the last one's overflow pointer is
 * the non-nil sentinel "buckets", as in Go), then one allocation each.
 * Because our keys and elems hold no pointers, Go also records every overflow
 * bucket in extra.overflow (a []*bmap grown like append: growslice +
 * roundupsize); we keep that slice, and it is how destroy / clear / the end of
 * a grow find the individually allocated overflow buckets to free.
 *
 * Probe rule: the low B bits of the 64-bit hash pick the bucket; tophash(hash)
 * is the top byte, bumped by minTopHash when it collides with a state.  A
 * lookup walks the bucket's chain comparing tophash bytes (generic keys) or
 * keys directly (8-byte keys: the map_fast64.go variants, which also do not
 * stop at emptyRest and skip the hash when B == 0).  An insert takes the first
 * empty slot (emptyOne or emptyRest) of the chain, after having walked the
 * chain up to the first emptyRest to rule out the key.
 *
 * Tombstone rule (mapdelete): a deleted slot becomes emptyOne; if nothing live
 * follows it in its chain, it and the emptyOne slots before it become
 * emptyRest ("no more non-empty cells at higher indexes or overflows"), so the
 * trailing empties of every chain are emptyRest.  emptyOne slots are reused by
 * inserts; they are what stats() reports as tombstones.
 *
 * Growth (hashGrow): an insert of a new key, when no grow is in progress and
 * either count+1 > 6.5 * 2^B (overLoadFactor; never below 8 entries) or
 * noverflow >= 2^B (tooManyOverflowBuckets), allocates a new bucket array:
 * twice as big, or the same size when only the overflow buckets are too many
 * (a same-size grow compacts sparse chains: what a churned map does instead of
 * shrinking).  The old array stays as oldbuckets and is moved incrementally:
 * every insert and delete first calls growWork, which evacuates the old bucket
 * behind the bucket it is about to use, plus old bucket nevacuate.  evacuate
 * splits an old chain between new bucket X = i and Y = i + 2^oldB (hash &
 * newbit) and marks every old slot evacuatedX / evacuatedY / evacuatedEmpty;
 * advanceEvacuationMark moves nevacuate past evacuated buckets (at most 1024
 * per call), and frees the old array and its overflow buckets when it reaches
 * the end.  Lookups read the old bucket while it is not yet evacuated.
 * Load factor 6.5 is Go's: its table in map.go (6.5 -> 20.9% of buckets with
 * an overflow, 10.79 bytes/entry overhead, 4.25 slots per hit, 6.5 per miss).
 *
 * Shrink: never (Go's map never shrinks; MB_F_SHRINK is not offered).
 * Deleting every entry keeps every bucket.  clear() is Go 1.19's mapclear: it
 * drops oldbuckets and every overflow bucket, keeps B and zeroes the bucket
 * array in place (clear-keeps-capacity).  mapclear on an empty map does
 * nothing at all, as in Go.
 *
 * Iteration visits buckets 0 .. 2^B-1 in order (Go starts at a random bucket
 * and slot; for this contract a fixed start is enough).  During a grow it does
 * what mapiternext does for a new bucket whose old bucket is not evacuated:
 * walk the old chain and return only the entries that will move to this new
 * bucket, so each live entry is visited exactly once.
 *
 * Deviations from Go 1.19, all deliberate:
 *  1. Allocation failure.  Go panics; we return MB_ENOMEM.  Every step that
 *     allocates is all-or-nothing: a bucket array is allocated before hashGrow
 *     commits; an overflow bucket (and room in extra.overflow) before it is
 *     linked; evacuate first counts how many overflow buckets its X and Y
 *     chains will need (only when the old chain has an overflow bucket, the
 *     only case that can need any), reserves them, and only then moves
 *     anything.  So a failed insert has lost, duplicated or changed no entry
 *     and check() passes.  What it may leave behind is evacuation progress
 *     made by its own growWork before the failing step (entries moved from
 *     oldbuckets to buckets, perhaps the old array freed): invisible to every
 *     op.  A hashGrow whose first growWork cannot evacuate is rolled back.
 *  2. Delete allocates.  Go's mapdelete runs growWork, and evacuate may need
 *     an overflow bucket in the new array, so remove can allocate here, unlike
 *     mb_map.h's "remove never allocates".  If that allocation fails, the
 *     delete is done in the old (not yet evacuated) bucket instead; remove
 *     never fails.  The extra evacuation of bucket nevacuate is skipped when
 *     its reservation fails (it is only progress), for inserts and deletes.
 *  3. noverflow is an exact count (size_t).  Go's is a uint16 that counts
 *     exactly below B = 16 and above that increments with probability
 *     1/2^(B-15), against a threshold capped at 2^15; we compare the exact
 *     count against 2^B, the expected value of Go's trigger, so same-size
 *     grows are deterministic.
 *  4. hash0 comes from mb_map_config.seed; where Go draws a new fastrand()
 *     seed (mapclear, delete of the last entry) we step a splitmix-style
 *     generator, so runs are reproducible.  The hash is mb_hash_key, not aeshash.
 *  5. extra is embedded in hmap (Go allocates it on demand, 24 bytes), the
 *     slice headers of extra.overflow are not modelled (only their arrays),
 *     and hmap carries what Go's type descriptor and GC know: sizes, the
 *     allocator, the number of buckets in each array.  No iterator flags, no
 *     hashWriting (single-threaded by contract), no indirect keys or elems.
 *  6. Bucket arrays are zeroed with memset after allocation (Go's large
 *     allocations come pre-zeroed from fresh spans without being touched).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../mb_map.h"
#include "go_malloc.h"

/* ---- constants (map.go) --------------------------------------------------- */

enum {
    bucketCntBits = 3,
    bucketCnt = 1 << bucketCntBits, /* key/elem pairs a bucket holds */
    loadFactorNum = 13,             /* max average load 6.5 = 13/2 ... */
    loadFactorDen = 2,              /* ... kept as a ratio for integer math */
    maxKeySize = 128,               /* larger keys / elems are stored indirectly */
    maxElemSize = 128,              /* (never the case here: keys <= 48, elems <= 64) */
    dataOffset = 8,                 /* keys start after the tophash array */
};

/* tophash states.  A chain has all or none of its slots in the evacuated*
 * states (outside evacuate, which nobody can watch). */
enum {
    emptyRest = 0,      /* empty, and nothing live at higher indexes or overflows */
    emptyOne = 1,       /* empty (a deleted slot: the tombstone) */
    evacuatedX = 2,     /* old slot, entry moved to the first half of the new array */
    evacuatedY = 3,     /* old slot, entry moved to the second half */
    evacuatedEmpty = 4, /* old slot, empty, bucket evacuated */
    minTopHash = 5,     /* smallest tophash of a live slot */
};

/* hmap.flags.  Go also has iterator, oldIterator and hashWriting; our
 * contract has no concurrent writers and no writes during iteration. */
enum { sameSizeGrow = 8 }; /* the current grow keeps the number of buckets */

/* advanceEvacuationMark looks at most this many buckets ahead per call
 * ("experiments suggest that 1024 is overkill", O(1) safeguard). */
#define GM_EVAC_SCAN_MAX 1024u

/* Go's heap limit (the size classes and page rounding are in go_malloc.h). */
#define GM_MAX_ALLOC ((size_t)1 << 48) /* maxAlloc on linux/amd64 */

/* ---- layout ----------------------------------------------------------------- */

/* A bucket: tophash, then (by offset, as in Go) keys, elems, overflow. */
typedef struct bmap {
    uint8_t tophash[bucketCnt];
} bmap;

/* A []*bmap: extra.overflow / extra.oldoverflow. */
typedef struct gm_slice {
    bmap **ptr;
    size_t len, cap;
} gm_slice;

typedef struct mapextra {
    gm_slice overflow;    /* every overflow bucket linked from buckets */
    gm_slice oldoverflow; /* every overflow bucket linked from oldbuckets */
    bmap *nextOverflow;   /* next free preallocated overflow bucket, or NULL */
} mapextra;

typedef struct hmap {
    size_t count;        /* live cells */
    uint8_t flags;       /* sameSizeGrow */
    uint8_t B;           /* log2 of the number of buckets */
    size_t noverflow;    /* overflow buckets of buckets (exact: deviation 3) */
    uint64_t hash0;      /* hash seed */
    bmap *buckets;       /* 2^B buckets (+ preallocated overflow); NULL until first insert if B == 0 */
    bmap *oldbuckets;    /* previous array, non-NULL only while growing */
    size_t nevacuate;    /* old buckets below this are evacuated */
    mapextra extra;
    /* What Go's type descriptor and allocator know (deviation 5): */
    size_t nbuckets;     /* buckets in the buckets allocation (2^B + preallocated) */
    size_t oldnbuckets;  /* buckets in the oldbuckets allocation */
    size_t keysize, elemsize, bucketsize;
    mb_alloc alloc;
    size_t grow_events;  /* doubling grows */
    size_t rehash_events;/* same-size grows */
} hmap;

static size_t gm_bucketShift(unsigned b)
{
    return (size_t)1 << b;
}

static size_t gm_bucketMask(unsigned b)
{
    return gm_bucketShift(b) - 1;
}

static bmap *gm_bucket_at(const hmap *h, bmap *array, size_t i)
{
    return (bmap *)((unsigned char *)array + i * h->bucketsize);
}

static unsigned char *gm_key(const hmap *h, bmap *b, size_t i)
{
    return (unsigned char *)b + dataOffset + i * h->keysize;
}

static unsigned char *gm_elem(const hmap *h, bmap *b, size_t i)
{
    return (unsigned char *)b + dataOffset + bucketCnt * h->keysize + i * h->elemsize;
}

static bmap **gm_overflow_slot(const hmap *h, bmap *b)
{
    return (bmap **)((unsigned char *)b + h->bucketsize - sizeof(bmap *));
}

static bmap *gm_overflow(const hmap *h, bmap *b)
{
    return *gm_overflow_slot(h, b);
}

static void gm_setoverflow(const hmap *h, bmap *b, bmap *ovf)
{
    *gm_overflow_slot(h, b) = ovf;
}

/* Returns 1 when p lies inside the bucket array starting at array. */
static int gm_in_array(const hmap *h, const bmap *array, size_t nbuckets, const bmap *p)
{
    uintptr_t lo = (uintptr_t)array, x = (uintptr_t)p;
    return array && x >= lo && x < lo + nbuckets * h->bucketsize;
}

/* tophash calculates the tophash value for hash. */
static uint8_t gm_tophash(uint64_t hash)
{
    uint8_t top = (uint8_t)(hash >> 56);
    if (top < minTopHash)
        top += minTopHash;
    return top;
}

static int gm_isEmpty(uint8_t x)
{
    return x <= emptyOne;
}

static int gm_evacuated(const bmap *b)
{
    uint8_t h = b->tophash[0];
    return h > emptyOne && h < minTopHash;
}

static uint64_t gm_hasher(const hmap *h, const void *key)
{
    return mb_hash_key(key, h->keysize, h->hash0);
}

/* fastrand() stand-in for the hash0 reseeds (deviation 4). */
static uint64_t gm_fastrand(uint64_t prev)
{
    return mb_hash_u64(prev + 0x9e3779b97f4a7c15ULL, 0x243f6a8885a308d3ULL);
}

/* overLoadFactor reports whether count items placed in 2^B buckets is over
 * loadFactor.  Note bucketShift(0)/loadFactorDen == 0: one bucket takes 8. */
static bool gm_overLoadFactor(size_t count, unsigned B)
{
    return count > bucketCnt && count > loadFactorNum * (gm_bucketShift(B) / loadFactorDen);
}

/* tooManyOverflowBuckets: "as many overflow buckets as buckets".  Go caps B
 * at 15 against its approximate counter; with an exact count the same
 * expected trigger is 2^B (deviation 3). */
static bool gm_tooManyOverflowBuckets(size_t noverflow, unsigned B)
{
    return noverflow >= gm_bucketShift(B);
}

static bool gm_growing(const hmap *h)
{
    return h->oldbuckets != NULL;
}

static bool gm_sameSizeGrow(const hmap *h)
{
    return (h->flags & sameSizeGrow) != 0;
}

/* noldbuckets: the number of buckets before the current grow. */
static size_t gm_noldbuckets(const hmap *h)
{
    unsigned oldB = h->B;
    if (!gm_sameSizeGrow(h))
        oldB--;
    return gm_bucketShift(oldB);
}

static size_t gm_oldbucketmask(const hmap *h)
{
    return gm_noldbuckets(h) - 1;
}

/* ---- Go's allocator sizes ---------------------------------------------------- */

/* The number of buckets makeBucketArray allocates for 2^b: for b >= 4,
 * 2^(b-4) preallocated overflow buckets, then as many as fill the size class. */
static size_t gm_nbuckets_for(size_t bucketsize, unsigned b)
{
    size_t base = gm_bucketShift(b), nbuckets = base;
    if (b >= 4) {
        nbuckets += gm_bucketShift(b - 4);
        size_t sz = bucketsize * nbuckets, up = go_roundupsize(sz);
        if (up != sz)
            nbuckets = up / bucketsize;
    }
    return nbuckets;
}

/* growslice's new capacity for a []*bmap of capacity cap that must hold need. */
static size_t gm_growslice_cap(size_t cap, size_t need)
{
    size_t newcap = cap, doublecap = cap + cap;
    if (need > doublecap) {
        newcap = need;
    } else if (cap < 256) {
        newcap = doublecap;
    } else {
        while (newcap < need)
            newcap += (newcap + 3 * 256) / 4;
    }
    return go_roundupsize(newcap * sizeof(bmap *)) / sizeof(bmap *);
}

/* ---- allocation ---------------------------------------------------------------- */

static void gm_free_array(hmap *h, bmap *array, size_t nbuckets)
{
    mb_free_bytes(&h->alloc, array, nbuckets * h->bucketsize, _Alignof(bmap *));
}

static void gm_free_bucket(hmap *h, bmap *b)
{
    mb_free_bytes(&h->alloc, b, h->bucketsize, _Alignof(bmap *));
}

/* newobject(t.bucket): one zeroed bucket, or NULL. */
static bmap *gm_newobject(hmap *h)
{
    bmap *b = mb_alloc_bytes(&h->alloc, h->bucketsize, _Alignof(bmap *));
    if (b)
        memset(b, 0, h->bucketsize);
    return b;
}

/* makeBucketArray initializes a backing array for 2^b buckets.  dirtyalloc
 * is NULL (allocate; *buckets = NULL on failure) or an array previously made
 * for the same b, which is cleared and reused (mapclear).  Returns the first
 * preallocated overflow bucket, or NULL if there are none; the last one's
 * overflow pointer is the non-nil sentinel (the array itself). */
static bmap *gm_makeBucketArray(hmap *h, unsigned b, bmap *dirtyalloc, bmap **buckets,
                                size_t *nbuckets_out)
{
    size_t base = gm_bucketShift(b), nbuckets = gm_nbuckets_for(h->bucketsize, b);
    bmap *array = dirtyalloc;
    *nbuckets_out = nbuckets;
    if (!array) {
        if (nbuckets > GM_MAX_ALLOC / h->bucketsize)
            return *buckets = NULL;
        array = mb_alloc_bytes(&h->alloc, nbuckets * h->bucketsize, _Alignof(bmap *));
        *buckets = array;
        if (!array)
            return NULL;
    }
    memset(array, 0, nbuckets * h->bucketsize);
    if (base == nbuckets)
        return NULL;
    gm_setoverflow(h, gm_bucket_at(h, array, nbuckets - 1), array);
    return gm_bucket_at(h, array, base);
}

/* Preallocated overflow buckets still free in the current array. */
static size_t gm_prealloc_left(const hmap *h)
{
    if (!h->extra.nextOverflow)
        return 0;
    uintptr_t end = (uintptr_t)h->buckets + h->nbuckets * h->bucketsize;
    return (end - (uintptr_t)h->extra.nextOverflow) / h->bucketsize;
}

/* Frees the individually allocated overflow buckets listed in s (those not
 * inside the array they belong to), then s's own array; s becomes empty. */
static void gm_slice_drop(hmap *h, gm_slice *s, bmap *array, size_t nbuckets)
{
    for (size_t i = 0; i < s->len; i++)
        if (!gm_in_array(h, array, nbuckets, s->ptr[i]))
            gm_free_bucket(h, s->ptr[i]);
    mb_free_bytes(&h->alloc, s->ptr, s->cap * sizeof *s->ptr, _Alignof(bmap *));
    *s = (gm_slice){ NULL, 0, 0 };
}

/* Makes room for extra more appends to s, growing it the way successive
 * appends would.  Returns 0, or MB_ENOMEM with s unchanged. */
static int gm_slice_reserve(hmap *h, gm_slice *s, size_t extra)
{
    size_t cap = s->cap;
    while (cap < s->len + extra)
        cap = gm_growslice_cap(cap, cap + 1);
    if (cap == s->cap)
        return 0;
    bmap **p = mb_alloc_bytes(&h->alloc, cap * sizeof *p, _Alignof(bmap *));
    if (!p)
        return MB_ENOMEM;
    if (s->len)
        memcpy(p, s->ptr, s->len * sizeof *p);
    mb_free_bytes(&h->alloc, s->ptr, s->cap * sizeof *s->ptr, _Alignof(bmap *));
    s->ptr = p;
    s->cap = cap;
    return 0;
}

/* Overflow buckets allocated ahead of need, linked through their overflow
 * pointers, so that newoverflow cannot fail (deviation 1). */
typedef struct gm_spare {
    bmap *head;
    size_t n;
} gm_spare;

static void gm_spare_release(hmap *h, gm_spare *sp)
{
    while (sp->head) {
        bmap *next = gm_overflow(h, sp->head);
        gm_free_bucket(h, sp->head);
        sp->head = next;
    }
    sp->n = 0;
}

/* Guarantees that the next need calls of newoverflow succeed: the
 * preallocated tail first, then buckets allocated into sp, and room in
 * extra.overflow.  Returns 0, or MB_ENOMEM with the map unchanged. */
static int gm_reserve_overflow(hmap *h, size_t need, gm_spare *sp)
{
    for (size_t have = gm_prealloc_left(h); have + sp->n < need;) {
        bmap *b = gm_newobject(h);
        if (!b) {
            gm_spare_release(h, sp);
            return MB_ENOMEM;
        }
        gm_setoverflow(h, b, sp->head);
        sp->head = b;
        sp->n++;
    }
    if (gm_slice_reserve(h, &h->extra.overflow, need) != 0) {
        gm_spare_release(h, sp);
        return MB_ENOMEM;
    }
    return 0;
}

/* newoverflow links a fresh overflow bucket after b and returns it.
 * PRECONDITION: gm_reserve_overflow(h, >= 1, sp) succeeded since the last
 * call that consumed its reservation. */
static bmap *gm_newoverflow(hmap *h, bmap *b, gm_spare *sp)
{
    bmap *ovf;
    if (h->extra.nextOverflow) {
        /* We have preallocated overflow buckets available. */
        ovf = h->extra.nextOverflow;
        if (gm_overflow(h, ovf) == NULL) {
            /* Not at the end of the preallocated buckets: bump the pointer. */
            h->extra.nextOverflow = gm_bucket_at(h, ovf, 1);
        } else {
            /* The last one: reset its sentinel overflow pointer. */
            gm_setoverflow(h, ovf, NULL);
            h->extra.nextOverflow = NULL;
        }
    } else {
        ovf = sp->head;
        sp->head = gm_overflow(h, ovf);
        sp->n--;
        gm_setoverflow(h, ovf, NULL);
    }
    h->noverflow++; /* incrnoverflow, exact */
    h->extra.overflow.ptr[h->extra.overflow.len++] = ovf;
    gm_setoverflow(h, b, ovf);
    return ovf;
}

/* ---- grow ------------------------------------------------------------------------ */

static void gm_free_old(hmap *h)
{
    gm_slice_drop(h, &h->extra.oldoverflow, h->oldbuckets, h->oldnbuckets);
    gm_free_array(h, h->oldbuckets, h->oldnbuckets);
    h->oldbuckets = NULL;
    h->oldnbuckets = 0;
}

/* hashGrow starts a grow: twice the buckets if count+1 is over the load
 * factor, else the same number (too many overflow buckets).  The copying is
 * done incrementally by growWork.  Returns 0, or MB_ENOMEM (unchanged). */
static int gm_hashGrow(hmap *h)
{
    unsigned bigger = 1;
    uint8_t flags = h->flags;
    if (!gm_overLoadFactor(h->count + 1, h->B)) {
        bigger = 0;
        flags |= sameSizeGrow;
    }
    bmap *newbuckets;
    size_t nbuckets;
    bmap *nextOverflow = gm_makeBucketArray(h, h->B + bigger, NULL, &newbuckets, &nbuckets);
    if (!newbuckets)
        return MB_ENOMEM;

    /* commit the grow */
    h->B += bigger;
    h->flags = flags;
    h->oldbuckets = h->buckets;
    h->oldnbuckets = h->nbuckets;
    h->buckets = newbuckets;
    h->nbuckets = nbuckets;
    h->nevacuate = 0;
    h->noverflow = 0;
    /* Promote current overflow buckets to the old generation. */
    h->extra.oldoverflow = h->extra.overflow;
    h->extra.overflow = (gm_slice){ NULL, 0, 0 };
    /* Go assigns only a non-nil nextOverflow; a nil one can only follow an
     * array that had none either, so assigning always is the same. */
    h->extra.nextOverflow = nextOverflow;
    if (bigger)
        h->grow_events++;
    else
        h->rehash_events++;
    return 0;
}

/* Undoes a hashGrow after which nothing was evacuated (deviation 1). */
static void gm_hashGrow_abort(hmap *h, const hmap *before)
{
    gm_slice_drop(h, &h->extra.overflow, h->buckets, h->nbuckets); /* empty */
    gm_free_array(h, h->buckets, h->nbuckets);
    *h = *before;
}

/* advanceEvacuationMark moves nevacuate past evacuated old buckets and ends
 * the grow (freeing the old array) when every old bucket is evacuated. */
static void gm_advanceEvacuationMark(hmap *h, size_t newbit)
{
    h->nevacuate++;
    size_t stop = h->nevacuate + GM_EVAC_SCAN_MAX;
    if (stop > newbit)
        stop = newbit;
    while (h->nevacuate != stop && gm_evacuated(gm_bucket_at(h, h->oldbuckets, h->nevacuate)))
        h->nevacuate++;
    if (h->nevacuate == newbit) { /* newbit == # of oldbuckets */
        /* Growing is all done.  Free old main bucket array and its overflows. */
        gm_free_old(h);
        h->flags &= (uint8_t)~sameSizeGrow;
    }
}

/* The overflow buckets evacuate will need for old chain b: X and Y start
 * empty (nothing is inserted into a new bucket before its old bucket is
 * evacuated), so n entries need ceil(n/8) - 1 of them. */
static size_t gm_evacuate_need(hmap *h, bmap *b, size_t newbit)
{
    size_t n[2] = { 0, 0 };
    for (; b; b = gm_overflow(h, b))
        for (size_t i = 0; i < bucketCnt; i++) {
            if (gm_isEmpty(b->tophash[i]))
                continue;
            int useY = !gm_sameSizeGrow(h) && (gm_hasher(h, gm_key(h, b, i)) & newbit) != 0;
            n[useY]++;
        }
    return (n[0] > bucketCnt ? (n[0] - 1) / bucketCnt : 0) +
           (n[1] > bucketCnt ? (n[1] - 1) / bucketCnt : 0);
}

/* An evacuation destination. */
typedef struct evacDst {
    bmap *b;  /* current destination bucket */
    size_t i; /* key/elem index into b */
} evacDst;

/* evacuate moves old bucket oldbucket's chain into the new array (X and, for
 * a doubling, Y) and marks its slots evacuated.  Returns 0, or MB_ENOMEM when
 * the overflow buckets it needs cannot be reserved: then nothing changed. */
static int gm_evacuate(hmap *h, size_t oldbucket)
{
    bmap *b = gm_bucket_at(h, h->oldbuckets, oldbucket);
    size_t newbit = gm_noldbuckets(h);
    if (!gm_evacuated(b)) {
        gm_spare sp = { NULL, 0 };
        /* A single old bucket holds <= 8 entries: its X and Y cannot overflow. */
        if (gm_overflow(h, b)) {
            size_t need = gm_evacuate_need(h, b, newbit);
            if (need && gm_reserve_overflow(h, need, &sp) != 0)
                return MB_ENOMEM;
        }
        /* xy contains the x and y (low and high) evacuation destinations. */
        evacDst xy[2] = { { gm_bucket_at(h, h->buckets, oldbucket), 0 }, { NULL, 0 } };
        if (!gm_sameSizeGrow(h))
            xy[1].b = gm_bucket_at(h, h->buckets, oldbucket + newbit);

        for (; b; b = gm_overflow(h, b)) {
            for (size_t i = 0; i < bucketCnt; i++) {
                uint8_t top = b->tophash[i];
                if (gm_isEmpty(top)) {
                    b->tophash[i] = evacuatedEmpty;
                    continue;
                }
                unsigned useY = 0;
                if (!gm_sameSizeGrow(h)) {
                    /* Compute hash to decide whether the entry goes to X or Y. */
                    uint64_t hash = gm_hasher(h, gm_key(h, b, i));
                    if (hash & newbit)
                        useY = 1;
                }
                b->tophash[i] = (uint8_t)(evacuatedX + useY);
                evacDst *dst = &xy[useY];
                if (dst->i == bucketCnt) {
                    dst->b = gm_newoverflow(h, dst->b, &sp);
                    dst->i = 0;
                }
                dst->b->tophash[dst->i] = top;
                memcpy(gm_key(h, dst->b, dst->i), gm_key(h, b, i), h->keysize);
                memcpy(gm_elem(h, dst->b, dst->i), gm_elem(h, b, i), h->elemsize);
                dst->i++;
            }
        }
        /* Go clears the old keys/elems only for types with pointers: not ours. */
        gm_spare_release(h, &sp); /* empty: the count was exact */
    }
    if (oldbucket == h->nevacuate)
        gm_advanceEvacuationMark(h, newbit);
    return 0;
}

/* growWork evacuates the old bucket behind bucket (the one about to be
 * used), then one more to make progress.  Returns 0, or MB_ENOMEM when the
 * first could not be evacuated (nothing changed then).  The second is
 * skipped when it cannot reserve its overflow buckets (deviation 2). */
static int gm_growWork(hmap *h, size_t bucket)
{
    if (gm_evacuate(h, bucket & gm_oldbucketmask(h)) != 0)
        return MB_ENOMEM;
    if (gm_growing(h))
        (void)gm_evacuate(h, h->nevacuate);
    return 0;
}

/* ---- access -------------------------------------------------------------------- */

/* The bucket a read of hash starts at: the old one while not yet evacuated. */
static bmap *gm_read_bucket(const hmap *h, uint64_t hash)
{
    size_t m = gm_bucketMask(h->B);
    bmap *b = gm_bucket_at(h, h->buckets, hash & m);
    if (h->oldbuckets) {
        if (!gm_sameSizeGrow(h))
            m >>= 1; /* there used to be half as many buckets */
        bmap *oldb = gm_bucket_at(h, h->oldbuckets, hash & m);
        if (!gm_evacuated(oldb))
            b = oldb;
    }
    return b;
}

/* mapaccess (generic keys): returns the slot holding key, or -1.  Walks
 * tophash bytes and stops at the first emptyRest. */
static int gm_mapaccess(const hmap *h, const void *key, uint64_t hash, bmap **bout)
{
    uint8_t top = gm_tophash(hash);
    for (bmap *b = gm_read_bucket(h, hash); b; b = gm_overflow(h, b)) {
        for (size_t i = 0; i < bucketCnt; i++) {
            if (b->tophash[i] != top) {
                if (b->tophash[i] == emptyRest)
                    return -1;
                continue;
            }
            if (mb_key_eq(key, gm_key(h, b, i), h->keysize)) {
                *bout = b;
                return (int)i;
            }
        }
    }
    return -1;
}

/* mapaccess2_fast64: compares keys, not tophash; no emptyRest exit; a
 * one-bucket table is not even hashed. */
static int gm_mapaccess_fast64(const hmap *h, uint64_t key, bmap **bout)
{
    bmap *b;
    if (h->B == 0)
        b = h->buckets;
    else
        b = gm_read_bucket(h, mb_hash_u64(key, h->hash0));
    for (; b; b = gm_overflow(h, b)) {
        for (size_t i = 0; i < bucketCnt; i++) {
            uint64_t k;
            memcpy(&k, gm_key(h, b, i), 8);
            if (k == key && !gm_isEmpty(b->tophash[i])) {
                *bout = b;
                return (int)i;
            }
        }
    }
    return -1;
}

/* ---- assign ------------------------------------------------------------------------ */

/* Where mapassign puts a new key. */
typedef struct gm_insert_pos {
    bmap *b;
    size_t i;
} gm_insert_pos;

/* The shared tail of mapassign / mapassign_fast64 after the search missed:
 * maybe hashGrow (then the caller starts again), else store in ins or in a
 * new overflow bucket after last.  Returns MB_INSERTED, 0 for "grew, search
 * again", or MB_ENOMEM. */
static int gm_assign_new(hmap *h, uint64_t hash, const void *key, const void *val,
                         gm_insert_pos ins, bmap *last, hmap *before, int *grew)
{
    /* If we hit the max load factor or we have too many overflow buckets,
     * and we're not already in the middle of growing, start growing. */
    if (!gm_growing(h) &&
        (gm_overLoadFactor(h->count + 1, h->B) || gm_tooManyOverflowBuckets(h->noverflow, h->B))) {
        *before = *h;
        if (gm_hashGrow(h) != 0)
            return MB_ENOMEM;
        *grew = 1;
        return 0; /* growing the table invalidates everything, so try again */
    }
    if (!ins.b) {
        /* The bucket and all its overflow buckets are full: add one. */
        gm_spare sp = { NULL, 0 };
        if (gm_reserve_overflow(h, 1, &sp) != 0)
            return MB_ENOMEM;
        ins.b = gm_newoverflow(h, last, &sp);
        ins.i = 0;
    }
    ins.b->tophash[ins.i] = gm_tophash(hash);
    memcpy(gm_key(h, ins.b, ins.i), key, h->keysize);
    memcpy(gm_elem(h, ins.b, ins.i), val, h->elemsize);
    h->count++;
    return MB_INSERTED;
}

/* The start of every assign: the lazily allocated first bucket, and growWork
 * (rolling back a hashGrow this call made if growWork cannot evacuate). */
static int gm_assign_prepare(hmap *h, size_t bucket, const hmap *before, int grew)
{
    if (gm_growing(h) && gm_growWork(h, bucket) != 0) {
        if (grew)
            gm_hashGrow_abort(h, before);
        return MB_ENOMEM;
    }
    return 0;
}

static int gm_ensure_buckets(hmap *h)
{
    if (h->buckets)
        return 0;
    h->buckets = gm_newobject(h); /* newarray(t.bucket, 1) */
    if (!h->buckets)
        return MB_ENOMEM;
    h->nbuckets = 1;
    return 0;
}

/* mapassign (generic keys).  Returns MB_INSERTED, MB_REPLACED or MB_ENOMEM
 * (entries unchanged; see deviation 1). */
static int gm_mapassign(hmap *h, const void *key, const void *val)
{
    uint64_t hash = gm_hasher(h, key);
    hmap before;
    int grew = 0, rc;
    if (gm_ensure_buckets(h) != 0)
        return MB_ENOMEM;
again:;
    size_t bucket = hash & gm_bucketMask(h->B);
    if (gm_assign_prepare(h, bucket, &before, grew) != 0)
        return MB_ENOMEM;
    bmap *b = gm_bucket_at(h, h->buckets, bucket);
    uint8_t top = gm_tophash(hash);
    gm_insert_pos ins = { NULL, 0 };
    for (;;) {
        for (size_t i = 0; i < bucketCnt; i++) {
            if (b->tophash[i] != top) {
                if (gm_isEmpty(b->tophash[i]) && !ins.b)
                    ins = (gm_insert_pos){ b, i };
                if (b->tophash[i] == emptyRest)
                    goto notfound;
                continue;
            }
            if (!mb_key_eq(key, gm_key(h, b, i), h->keysize))
                continue;
            /* already have a mapping for key: update it */
            memcpy(gm_elem(h, b, i), val, h->elemsize);
            return MB_REPLACED;
        }
        bmap *ovf = gm_overflow(h, b);
        if (!ovf)
            break;
        b = ovf;
    }
notfound:
    rc = gm_assign_new(h, hash, key, val, ins, b, &before, &grew);
    if (rc == 0)
        goto again;
    return rc;
}

/* mapassign_fast64: the same with keys compared directly. */
static int gm_mapassign_fast64(hmap *h, const void *keyp, const void *val)
{
    uint64_t key;
    memcpy(&key, keyp, 8);
    uint64_t hash = mb_hash_u64(key, h->hash0);
    hmap before;
    int grew = 0, rc;
    if (gm_ensure_buckets(h) != 0)
        return MB_ENOMEM;
again:;
    size_t bucket = hash & gm_bucketMask(h->B);
    if (gm_assign_prepare(h, bucket, &before, grew) != 0)
        return MB_ENOMEM;
    bmap *b = gm_bucket_at(h, h->buckets, bucket);
    gm_insert_pos ins = { NULL, 0 };
    for (;;) {
        for (size_t i = 0; i < bucketCnt; i++) {
            if (gm_isEmpty(b->tophash[i])) {
                if (!ins.b)
                    ins = (gm_insert_pos){ b, i };
                if (b->tophash[i] == emptyRest)
                    goto notfound;
                continue;
            }
            uint64_t k;
            memcpy(&k, gm_key(h, b, i), 8);
            if (k != key)
                continue;
            memcpy(gm_elem(h, b, i), val, h->elemsize);
            return MB_REPLACED;
        }
        bmap *ovf = gm_overflow(h, b);
        if (!ovf)
            break;
        b = ovf;
    }
notfound:
    rc = gm_assign_new(h, hash, keyp, val, ins, b, &before, &grew);
    if (rc == 0)
        goto again;
    return rc;
}

/* ---- delete ------------------------------------------------------------------------ */

/* Empties slot i of b (in the chain starting at bOrig): emptyOne, then, if
 * nothing live follows, it and the emptyOne run before it become emptyRest. */
static void gm_delete_slot(hmap *h, bmap *bOrig, bmap *b, size_t i)
{
    memset(gm_elem(h, b, i), 0, h->elemsize); /* memclrNoHeapPointers */
    b->tophash[i] = emptyOne;
    /* If the bucket now ends in a bunch of emptyOne states, change those to
     * emptyRest states. */
    if (i == bucketCnt - 1) {
        bmap *ovf = gm_overflow(h, b);
        if (ovf && ovf->tophash[0] != emptyRest)
            goto notLast;
    } else if (b->tophash[i + 1] != emptyRest) {
        goto notLast;
    }
    for (;;) {
        b->tophash[i] = emptyRest;
        if (i == 0) {
            if (b == bOrig)
                break; /* beginning of initial bucket, we're done */
            /* Find previous bucket, continue at its last entry. */
            bmap *c = b;
            for (b = bOrig; gm_overflow(h, b) != c; b = gm_overflow(h, b)) {
            }
            i = bucketCnt - 1;
        } else {
            i--;
        }
        if (b->tophash[i] != emptyOne)
            break;
    }
notLast:
    h->count--;
    /* Reset the hash seed to make it harder to trigger collisions (issue 25237). */
    if (h->count == 0)
        h->hash0 = gm_fastrand(h->hash0);
}

/* The chain a delete of hash searches: after growWork the new bucket; if
 * growWork could not evacuate, the old bucket (deviation 2). */
static bmap *gm_delete_bucket(hmap *h, uint64_t hash)
{
    size_t bucket = hash & gm_bucketMask(h->B);
    if (gm_growing(h) && gm_growWork(h, bucket) != 0)
        return gm_bucket_at(h, h->oldbuckets, hash & gm_oldbucketmask(h));
    return gm_bucket_at(h, h->buckets, bucket);
}

/* mapdelete (generic keys).  Returns MB_FOUND or MB_NOTFOUND. */
static int gm_mapdelete(hmap *h, const void *key)
{
    if (h->count == 0)
        return MB_NOTFOUND;
    uint64_t hash = gm_hasher(h, key);
    bmap *bOrig = gm_delete_bucket(h, hash);
    uint8_t top = gm_tophash(hash);
    for (bmap *b = bOrig; b; b = gm_overflow(h, b)) {
        for (size_t i = 0; i < bucketCnt; i++) {
            if (b->tophash[i] != top) {
                if (b->tophash[i] == emptyRest)
                    return MB_NOTFOUND;
                continue;
            }
            if (!mb_key_eq(key, gm_key(h, b, i), h->keysize))
                continue;
            gm_delete_slot(h, bOrig, b, i);
            return MB_FOUND;
        }
    }
    return MB_NOTFOUND;
}

/* mapdelete_fast64: keys compared directly, no emptyRest exit. */
static int gm_mapdelete_fast64(hmap *h, const void *keyp)
{
    if (h->count == 0)
        return MB_NOTFOUND;
    uint64_t key;
    memcpy(&key, keyp, 8);
    bmap *bOrig = gm_delete_bucket(h, mb_hash_u64(key, h->hash0));
    for (bmap *b = bOrig; b; b = gm_overflow(h, b)) {
        for (size_t i = 0; i < bucketCnt; i++) {
            uint64_t k;
            memcpy(&k, gm_key(h, b, i), 8);
            if (k != key || gm_isEmpty(b->tophash[i]))
                continue;
            gm_delete_slot(h, bOrig, b, i);
            return MB_FOUND;
        }
    }
    return MB_NOTFOUND;
}

/* ---- ops ---------------------------------------------------------------------------- */

/* makemap: B is the smallest that holds hint entries under the load factor;
 * B == 0 allocates nothing until the first insert. */
static void *gm_create(const mb_alloc *a, const mb_map_config *cfg)
{
    hmap *h = mb_alloc_bytes(a, sizeof *h, _Alignof(hmap));
    if (!h)
        return NULL;
    memset(h, 0, sizeof *h);
    h->alloc = *a;
    h->keysize = cfg->key_bytes;
    h->elemsize = cfg->val_bytes;
    h->bucketsize = dataOffset + bucketCnt * (h->keysize + h->elemsize) + sizeof(bmap *);
    h->hash0 = cfg->seed;

    size_t hint = cfg->capacity_hint;
    if (hint > GM_MAX_ALLOC / h->bucketsize) /* Go: hint*bucket.size overflows maxAlloc */
        hint = 0;
    unsigned B = 0;
    while (gm_overLoadFactor(hint, B))
        B++;
    h->B = (uint8_t)B;
    if (B != 0) {
        h->extra.nextOverflow = gm_makeBucketArray(h, B, NULL, &h->buckets, &h->nbuckets);
        if (!h->buckets) {
            mb_free_bytes(a, h, sizeof *h, _Alignof(hmap));
            return NULL;
        }
    }
    return h;
}

static void gm_destroy(void *mp)
{
    hmap *h = mp;
    mb_alloc a = h->alloc;
    if (h->oldbuckets)
        gm_free_old(h);
    gm_slice_drop(h, &h->extra.overflow, h->buckets, h->nbuckets);
    gm_free_array(h, h->buckets, h->nbuckets);
    mb_free_bytes(&a, h, sizeof *h, _Alignof(hmap));
}

static int gm_insert(void *mp, const void *key, const void *val)
{
    hmap *h = mp;
    if (h->keysize == 8)
        return gm_mapassign_fast64(h, key, val);
    return gm_mapassign(h, key, val);
}

static int gm_lookup(void *mp, const void *key, void *val_out)
{
    hmap *h = mp;
    bmap *b;
    int i;
    if (h->count == 0)
        return MB_NOTFOUND;
    if (h->keysize == 8) {
        uint64_t k;
        memcpy(&k, key, 8);
        i = gm_mapaccess_fast64(h, k, &b);
    } else {
        i = gm_mapaccess(h, key, gm_hasher(h, key), &b);
    }
    if (i < 0)
        return MB_NOTFOUND;
    if (val_out)
        memcpy(val_out, gm_elem(h, b, (size_t)i), h->elemsize);
    return MB_FOUND;
}

static int gm_remove(void *mp, const void *key)
{
    hmap *h = mp;
    if (h->keysize == 8)
        return gm_mapdelete_fast64(h, key);
    return gm_mapdelete(h, key);
}

/* mapclear (Go 1.19): drops oldbuckets and every overflow bucket, keeps B,
 * clears the bucket array in place and re-arms its preallocated overflow
 * buckets.  Does nothing to an empty map. */
static void gm_clear(void *mp)
{
    hmap *h = mp;
    if (h->count == 0)
        return;
    h->flags &= (uint8_t)~sameSizeGrow;
    if (h->oldbuckets)
        gm_free_old(h);
    h->nevacuate = 0;
    h->noverflow = 0;
    h->count = 0;
    h->hash0 = gm_fastrand(h->hash0);
    /* Keep the mapextra but clear it: the overflow buckets become garbage. */
    gm_slice_drop(h, &h->extra.overflow, h->buckets, h->nbuckets);
    size_t nbuckets;
    h->extra.nextOverflow = gm_makeBucketArray(h, h->B, h->buckets, &h->buckets, &nbuckets);
}

/* Calls fn on each live slot of chain b; with checkBucket != SIZE_MAX (an old
 * chain read for new bucket checkBucket of a doubling grow) only on the
 * entries that will move there.  Returns fn's first nonzero answer. */
static int gm_iterate_chain(hmap *h, bmap *b, size_t checkBucket, mb_visit_fn fn, void *ud)
{
    for (; b; b = gm_overflow(h, b)) {
        for (size_t i = 0; i < bucketCnt; i++) {
            uint8_t top = b->tophash[i];
            if (gm_isEmpty(top) || top == evacuatedEmpty)
                continue;
            const unsigned char *k = gm_key(h, b, i);
            if (checkBucket != SIZE_MAX && (gm_hasher(h, k) & gm_bucketMask(h->B)) != checkBucket)
                continue;
            int r = fn(ud, k, gm_elem(h, b, i));
            if (r)
                return r;
        }
    }
    return 0;
}

/* mapiterinit + mapiternext, started at bucket 0, slot 0. */
static int gm_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    hmap *h = mp;
    int r = 0;
    if (h->count == 0)
        return 0;
    for (size_t bucket = 0; bucket < gm_bucketShift(h->B) && r == 0; bucket++) {
        bmap *b = gm_bucket_at(h, h->buckets, bucket);
        size_t checkBucket = SIZE_MAX; /* noCheck */
        if (gm_growing(h)) {
            /* If the old bucket has not been evacuated, iterate it and return
             * only the entries that will be migrated to this bucket. */
            bmap *oldb = gm_bucket_at(h, h->oldbuckets, bucket & gm_oldbucketmask(h));
            if (!gm_evacuated(oldb)) {
                b = oldb;
                if (!gm_sameSizeGrow(h))
                    checkBucket = bucket;
            }
        }
        r = gm_iterate_chain(h, b, checkBucket, fn, ud);
    }
    return r;
}

/* Bytes of the overflow buckets in s allocated one by one. */
static size_t gm_slice_own_bytes(const hmap *h, const gm_slice *s, const bmap *array, size_t nb)
{
    size_t bytes = s->cap * sizeof *s->ptr;
    for (size_t i = 0; i < s->len; i++)
        if (!gm_in_array(h, array, nb, s->ptr[i]))
            bytes += h->bucketsize;
    return bytes;
}

/* Adds chain b's live slots to the probe totals (probe = slots walked to a
 * hit, Go's "hitprobe") and its emptyOne slots to the tombstones. */
static void gm_stats_chain(const hmap *h, bmap *b, mb_map_stats *out, size_t *total)
{
    for (size_t pos = 0; b; b = gm_overflow(h, b), pos += bucketCnt) {
        for (size_t i = 0; i < bucketCnt; i++) {
            uint8_t t = b->tophash[i];
            if (t == emptyOne)
                out->tombstones++;
            if (t < minTopHash)
                continue;
            size_t probe = pos + i + 1;
            *total += probe;
            if (probe > out->max_probe)
                out->max_probe = probe;
        }
    }
}

static void gm_stats(const void *mp, mb_map_stats *out)
{
    const hmap *h = mp;
    size_t total = 0;
    mb_stats_init(out);
    out->count = h->count;
    out->capacity = gm_bucketShift(h->B) * bucketCnt; /* the new size while growing */
    out->tombstones = 0;
    out->max_probe = 0;
    out->overflow = h->extra.overflow.len + h->extra.oldoverflow.len;
    if (h->buckets)
        for (size_t j = 0; j < gm_bucketShift(h->B); j++)
            gm_stats_chain(h, gm_bucket_at(h, h->buckets, j), out, &total);
    if (h->oldbuckets)
        for (size_t j = 0; j < gm_noldbuckets(h); j++)
            gm_stats_chain(h, gm_bucket_at(h, h->oldbuckets, j), out, &total);
    out->mean_probe = h->count ? (double)total / (double)h->count : 0.0;
    out->grow_events = h->grow_events;
    out->shrink_events = 0;
    out->rehash_events = h->rehash_events;
    out->bytes = sizeof *h + (h->nbuckets + h->oldnbuckets) * h->bucketsize +
                 gm_slice_own_bytes(h, &h->extra.overflow, h->buckets, h->nbuckets) +
                 gm_slice_own_bytes(h, &h->extra.oldoverflow, h->oldbuckets, h->oldnbuckets);
}

/* ---- check ---------------------------------------------------------------------------- */

/* Walks chain idx of array (2^B main buckets, nbuckets allocated, mask picks
 * a key's bucket): tophash states, emptyRest ordering, keys where they
 * belong and found by a lookup, overflow buckets legal.  Adds live slots to
 * *live and overflow buckets to *novf. */
static const char *gm_check_chain(const hmap *h, bmap *array, size_t nbuckets, size_t mask,
                                  size_t idx, size_t max_ovf, size_t *live, size_t *novf)
{
    bmap *b = gm_bucket_at(h, array, idx);
    int seen_rest = 0, pending_one = 0;
    size_t base = mask + 1, nextIdx = nbuckets;
    if (array == h->buckets && h->extra.nextOverflow)
        nextIdx = ((uintptr_t)h->extra.nextOverflow - (uintptr_t)array) / h->bucketsize;
    for (size_t len = 0; b; b = gm_overflow(h, b), len++) {
        if (len > 0) {
            ++*novf;
            if (len > max_ovf)
                return "an overflow chain is longer than the overflow buckets there are";
            if (gm_in_array(h, array, nbuckets, b)) {
                size_t at = ((uintptr_t)b - (uintptr_t)array) / h->bucketsize;
                if (at < base)
                    return "an overflow pointer points at a main bucket";
                if (at >= nextIdx)
                    return "an overflow bucket lies past extra.nextOverflow";
            }
        }
        for (size_t i = 0; i < bucketCnt; i++) {
            uint8_t t = b->tophash[i];
            if (t == emptyRest) {
                seen_rest = 1;
                continue;
            }
            if (seen_rest)
                return "a slot after an emptyRest is not emptyRest";
            if (t == emptyOne) {
                pending_one = 1;
                continue;
            }
            if (t < minTopHash)
                return "an evacuation mark in a chain that is not evacuated";
            pending_one = 0;
            ++*live;
            const unsigned char *k = gm_key(h, b, i);
            uint64_t hash = gm_hasher(h, k);
            if (gm_tophash(hash) != t)
                return "a key's tophash does not match its hash";
            if ((hash & mask) != idx)
                return "a key is not in the bucket its hash picks";
            bmap *fb;
            if (gm_mapaccess(h, k, hash, &fb) != (int)i || fb != b)
                return "a key is stored twice (a lookup finds another slot)";
        }
    }
    if (pending_one)
        return "a chain ends in emptyOne slots that should be emptyRest";
    return NULL;
}

/* Old chain idx is evacuated: every slot carries an evacuation mark. */
static const char *gm_check_evacuated(const hmap *h, size_t idx, size_t max_ovf, size_t *novf)
{
    size_t len = 0;
    for (bmap *b = gm_bucket_at(h, h->oldbuckets, idx); b; b = gm_overflow(h, b), len++) {
        if (len > 0) {
            ++*novf;
            if (len > max_ovf)
                return "an old overflow chain is longer than the old overflow buckets there are";
        }
        for (size_t i = 0; i < bucketCnt; i++) {
            uint8_t t = b->tophash[i];
            if (t < evacuatedX || t > evacuatedEmpty)
                return "an evacuated old chain has a slot without an evacuation mark";
            if (t == evacuatedY && gm_sameSizeGrow(h))
                return "evacuatedY in a same-size grow";
        }
    }
    return NULL;
}

/* The preallocated overflow buckets not yet handed out are pristine. */
static const char *gm_check_prealloc(const hmap *h)
{
    size_t base = gm_bucketShift(h->B);
    if (!h->extra.nextOverflow)
        return NULL;
    if (!gm_in_array(h, h->buckets, h->nbuckets, h->extra.nextOverflow))
        return "extra.nextOverflow is outside the bucket array";
    size_t at = ((uintptr_t)h->extra.nextOverflow - (uintptr_t)h->buckets) / h->bucketsize;
    if (at < base)
        return "extra.nextOverflow points at a main bucket";
    for (; at < h->nbuckets; at++) {
        bmap *b = gm_bucket_at(h, h->buckets, at);
        for (size_t i = 0; i < bucketCnt; i++)
            if (b->tophash[i] != emptyRest)
                return "a free preallocated overflow bucket is not empty";
        if (gm_overflow(h, b) != (at + 1 == h->nbuckets ? h->buckets : NULL))
            return "a free preallocated overflow bucket has a wrong overflow pointer";
    }
    return NULL;
}

static const char *gm_check(const void *mp)
{
    const hmap *h = mp;
    const char *why;
    size_t live = 0, novf = 0, noldovf = 0;

    if (!h->buckets) {
        if (h->B || h->count || h->oldbuckets || h->extra.overflow.len || h->extra.nextOverflow)
            return "no bucket array, yet the map is not empty with B == 0";
        return NULL;
    }
    if (h->nbuckets != gm_nbuckets_for(h->bucketsize, h->B))
        return "the bucket array's size does not follow makeBucketArray";
    if (h->noverflow != h->extra.overflow.len)
        return "noverflow does not match extra.overflow";
    if ((why = gm_check_prealloc(h)) != NULL)
        return why;

    size_t nb = gm_bucketShift(h->B), nold = 0, oldmask = 0;
    if (!gm_growing(h)) {
        /* nevacuate keeps its final value until the next hashGrow, as in Go. */
        if (gm_sameSizeGrow(h) || h->extra.oldoverflow.len || h->oldnbuckets)
            return "grow state left over while not growing";
    } else {
        if (!gm_sameSizeGrow(h) && h->B == 0)
            return "a doubling grow into B == 0";
        nold = gm_noldbuckets(h);
        oldmask = nold - 1;
        unsigned oldB = gm_sameSizeGrow(h) ? h->B : h->B - 1u;
        if (h->oldnbuckets != gm_nbuckets_for(h->bucketsize, oldB))
            return "the old bucket array's size does not follow makeBucketArray";
        if (h->nevacuate >= nold)
            return "nevacuate is past the old buckets while still growing";
        for (size_t a = 0; a < h->nevacuate; a++)
            if (!gm_evacuated(gm_bucket_at(h, h->oldbuckets, a)))
                return "an old bucket below nevacuate is not evacuated";
    }

    for (size_t j = 0; j < nb; j++) {
        if (gm_growing(h) && !gm_evacuated(gm_bucket_at(h, h->oldbuckets, j & oldmask))) {
            /* Nothing enters a new bucket before its old bucket is evacuated. */
            bmap *b = gm_bucket_at(h, h->buckets, j);
            for (size_t i = 0; i < bucketCnt; i++)
                if (b->tophash[i] != emptyRest)
                    return "a new bucket has entries while its old bucket is not evacuated";
            if (gm_overflow(h, b))
                return "a new bucket has overflow while its old bucket is not evacuated";
            continue;
        }
        why = gm_check_chain(h, h->buckets, h->nbuckets, nb - 1, j, h->extra.overflow.len, &live,
                             &novf);
        if (why)
            return why;
    }
    for (size_t a = 0; a < nold; a++) {
        if (gm_evacuated(gm_bucket_at(h, h->oldbuckets, a)))
            why = gm_check_evacuated(h, a, h->extra.oldoverflow.len, &noldovf);
        else
            why = gm_check_chain(h, h->oldbuckets, h->oldnbuckets, oldmask, a,
                                 h->extra.oldoverflow.len, &live, &noldovf);
        if (why)
            return why;
    }
    if (novf != h->extra.overflow.len)
        return "overflow buckets linked from buckets do not match extra.overflow";
    if (noldovf != h->extra.oldoverflow.len)
        return "overflow buckets linked from oldbuckets do not match extra.oldoverflow";
    for (size_t i = 0; i < h->extra.overflow.len; i++)
        if (!h->extra.overflow.ptr[i])
            return "extra.overflow holds NULL";
    if (live != h->count)
        return "count does not match the live slots";
    return NULL;
}

const mb_map_ops mb_gomap_ops = {
    .name = "gomap",
    .family = "bucketed",
    .traits = "tombstones,no-shrink,incremental-grow,same-size-grow,overflow-buckets,"
              "delete-may-allocate,clear-keeps-capacity,clear-frees-overflow",
    .flags = MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_OWN_ALLOC,
    .create = gm_create,
    .destroy = gm_destroy,
    .insert = gm_insert,
    .lookup = gm_lookup,
    .remove = gm_remove,
    .clear = gm_clear,
    .iterate = gm_iterate,
    .stats = gm_stats,
    .check = gm_check,
};
