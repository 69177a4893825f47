// threads.go — the real Go maps under threads, for mixed_rw (issue 14):
// sync.Map, one map[uint64]uint64 behind a sync.RWMutex, and a sharded map
// (64 shards, each a map[uint64]uint64 behind its own sync.RWMutex), driven
// by T goroutines with GOMAXPROCS = T through the same per-thread scripts as
// workloads/mixed.c.  harness/probe/gothreads.c (go-threads-case) calls it.
//
// The scripts, bit for bit as mixed.c's mx_build_script: thread t's rng is
// seed ^ (0xa0761d6478bd642f * (t + 1)) stepped by splitmix64; an op is a
// lookup of key (r >> 8) % n when r % 100 < lookup_percent, else it
// alternates insert of own key 2n + t*ops + i / remove of it, with a
// trailing remove when an insert is pending.  Each goroutine builds its
// script (op kinds and keys) before the start gate, so the timed region
// only reads the script and calls the map.  The checksum is the sum of the
// answers (a lookup's value, 0 when absent; an insert's and a remove's
// mb_map.h result code); the C side computes the expected sum from its own
// scripts (mb_mixed_expected) and compares: Go's keys and every answer are
// verified by C, never by Go itself.
//
// Maps live in a Go-side table (handles, as in gort.go): C holds an index.
package main

/*
#include <stdint.h>
*/
import "C"

import (
	"runtime"
	"sync"
	"time"
)

// The map kinds (plan/selection.c's mb_go_thread_maps).
const (
	kindSyncMap = 0 // sync.Map
	kindRWMutex = 1 // map + one sync.RWMutex
	kindSharded = 2 // 64 x (map + sync.RWMutex)
)

// mb_map.h's result codes.
const (
	rcNotFound = 0
	rcFound    = 1
	rcInserted = 2
	rcReplaced = 3
)

const (
	opLookup = 0
	opInsert = 1
	opRemove = 2
)

// concMap is what a mixed script needs of a map shared between goroutines.
type concMap interface {
	load(k uint64) (uint64, bool)
	insert(k, v uint64) uint64 // rcInserted or rcReplaced
	remove(k uint64) uint64    // rcFound or rcNotFound
	length() int
}

// ---- sync.Map --------------------------------------------------------------------

type syncMapT struct{ m sync.Map }

func (s *syncMapT) load(k uint64) (uint64, bool) {
	v, ok := s.m.Load(k)
	if !ok {
		return 0, false
	}
	return v.(uint64), true
}

func (s *syncMapT) insert(k, v uint64) uint64 {
	if _, loaded := s.m.LoadOrStore(k, v); loaded {
		s.m.Store(k, v)
		return rcReplaced
	}
	return rcInserted
}

func (s *syncMapT) remove(k uint64) uint64 {
	if _, ok := s.m.LoadAndDelete(k); ok {
		return rcFound
	}
	return rcNotFound
}

func (s *syncMapT) length() int {
	n := 0
	s.m.Range(func(_, _ any) bool { n++; return true })
	return n
}

// ---- map + RWMutex ------------------------------------------------------------------

type rwMap struct {
	mu sync.RWMutex
	m  map[uint64]uint64
}

func (r *rwMap) load(k uint64) (uint64, bool) {
	r.mu.RLock()
	v, ok := r.m[k]
	r.mu.RUnlock()
	return v, ok
}

func (r *rwMap) insert(k, v uint64) uint64 {
	r.mu.Lock()
	_, had := r.m[k]
	r.m[k] = v
	r.mu.Unlock()
	if had {
		return rcReplaced
	}
	return rcInserted
}

func (r *rwMap) remove(k uint64) uint64 {
	r.mu.Lock()
	_, had := r.m[k]
	delete(r.m, k)
	r.mu.Unlock()
	if had {
		return rcFound
	}
	return rcNotFound
}

func (r *rwMap) length() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.m)
}

// ---- sharded ------------------------------------------------------------------------

const shardBits = 6 // 64 shards

// shard: an RWMutex (24 bytes) and a map pointer, padded to 64 bytes so that
// neighbouring shards' locks do not share a line (when the array starts on one).
type shard struct {
	rwMap
	_ [32]byte
}

type shardedMap struct{ s [1 << shardBits]shard }

func (sm *shardedMap) of(k uint64) *rwMap {
	return &sm.s[(k*0x9e3779b97f4a7c15)>>(64-shardBits)].rwMap
}

func (sm *shardedMap) load(k uint64) (uint64, bool) { return sm.of(k).load(k) }
func (sm *shardedMap) insert(k, v uint64) uint64    { return sm.of(k).insert(k, v) }
func (sm *shardedMap) remove(k uint64) uint64       { return sm.of(k).remove(k) }

func (sm *shardedMap) length() int {
	n := 0
	for i := range sm.s {
		n += sm.s[i].length()
	}
	return n
}

// ---- handles ------------------------------------------------------------------------

var (
	thMu  sync.Mutex
	thTab []concMap // handle h is thTab[h-1]; nil once freed
)

func thLookup(h C.int) concMap {
	thMu.Lock()
	defer thMu.Unlock()
	if h < 1 || int(h) > len(thTab) {
		return nil
	}
	return thTab[h-1]
}

func newConcMap(kind int) concMap {
	switch kind {
	case kindSyncMap:
		return &syncMapT{}
	case kindRWMutex:
		return &rwMap{m: make(map[uint64]uint64)}
	case kindSharded:
		sm := &shardedMap{}
		for i := range sm.s {
			sm.s[i].m = make(map[uint64]uint64)
		}
		return sm
	}
	return nil
}

// GortThreadsNew makes a map of kind (kindSyncMap, kindRWMutex, kindSharded)
// holding keys [0, n) of the stream with their values.  Returns its handle
// (>= 1), or -1 for a bad kind or distribution.
//
//export GortThreadsNew
func GortThreadsNew(kind C.int, seed C.uint64_t, dist C.int, n C.uint64_t) C.int {
	if !validDist(int(dist)) {
		return -1
	}
	m := newConcMap(int(kind))
	if m == nil {
		return -1
	}
	for i := uint64(0); i < uint64(n); i++ {
		k := keyAt(uint64(seed), int(dist), i)
		m.insert(k, valFor(k))
	}
	thMu.Lock()
	defer thMu.Unlock()
	for i := range thTab {
		if thTab[i] == nil {
			thTab[i] = m
			return C.int(i + 1)
		}
	}
	thTab = append(thTab, m)
	return C.int(len(thTab))
}

// GortThreadsLen returns the map's entry count, or -1 for a bad handle.
//
//export GortThreadsLen
func GortThreadsLen(h C.int) C.int64_t {
	m := thLookup(h)
	if m == nil {
		return -1
	}
	return C.int64_t(m.length())
}

// GortThreadsFree drops the map (garbage at the next GC).  0, or -1 for a bad handle.
//
//export GortThreadsFree
func GortThreadsFree(h C.int) C.int {
	thMu.Lock()
	defer thMu.Unlock()
	if h < 1 || int(h) > len(thTab) || thTab[h-1] == nil {
		return -1
	}
	thTab[h-1] = nil
	return 0
}

// GortThreadsLookup looks up keys [lo, hi) from one goroutine (the untimed
// warm-up pass: a sync.Map promotes its dirty map here).  Returns how many
// were found and *sum, the plain sum of the values found; -1 for a bad handle.
//
//export GortThreadsLookup
func GortThreadsLookup(h C.int, seed C.uint64_t, dist C.int, lo, hi C.uint64_t,
	sum *C.uint64_t) C.int64_t {
	m := thLookup(h)
	if m == nil || !validDist(int(dist)) {
		return -1
	}
	var found int64
	var acc uint64
	for i := uint64(lo); i < uint64(hi); i++ {
		if v, ok := m.load(keyAt(uint64(seed), int(dist), i)); ok {
			found++
			acc += v
		}
	}
	*sum = C.uint64_t(acc)
	return C.int64_t(found)
}

// thResult is one goroutine's checksum, alone on its cache line.
type thResult struct {
	checksum uint64
	_        [56]byte
}

// thScript is mixed.c's mx_build_script for goroutine id (see the top).
func thScript(seed uint64, dist int, n, ops uint64, id int, lookupPercent uint64) ([]byte, []uint64) {
	rng := seed ^ (0xa0761d6478bd642f * uint64(id+1))
	ownBase := 2*n + uint64(id)*ops
	kinds := make([]byte, 0, ops+1)
	keys := make([]uint64, 0, ops+1)
	pending := false
	var pendingKey uint64
	for i := uint64(0); i < ops || pending; i++ {
		r := splitmix64(&rng)
		switch {
		case i < ops && r%100 < lookupPercent:
			kinds = append(kinds, opLookup)
			keys = append(keys, keyAt(seed, dist, (r>>8)%n))
		case !pending && i < ops:
			pendingKey = keyAt(seed, dist, ownBase+i)
			pending = true
			kinds = append(kinds, opInsert)
			keys = append(keys, pendingKey)
		default:
			kinds = append(kinds, opRemove)
			keys = append(keys, pendingKey)
			pending = false
		}
	}
	return kinds, keys
}

// thRun is the timed loop of one goroutine: the answers summed in a local.
func thRun(m concMap, kinds []byte, keys []uint64) uint64 {
	var sum uint64
	for i, k := range keys {
		switch kinds[i] {
		case opLookup:
			if v, ok := m.load(k); ok {
				sum += v
			}
		case opInsert:
			sum += m.insert(k, valFor(k))
		default:
			sum += m.remove(k)
		}
	}
	return sum
}

// GortThreadsMixed runs mixed_rw on map h: threads goroutines (GOMAXPROCS
// set to threads), opsPerThread ops each, lookupPercent of them lookups.
// Sets *wallNs (the gate opening to the last goroutine done) and *checksum
// (the sum over the goroutines).  Returns 0, or -1 for a bad handle or argument.
//
//export GortThreadsMixed
func GortThreadsMixed(h C.int, seed C.uint64_t, dist C.int, n C.uint64_t, threads C.int,
	opsPerThread C.uint64_t, lookupPercent C.int, wallNs, checksum *C.uint64_t) C.int {
	m := thLookup(h)
	if m == nil || !validDist(int(dist)) || threads < 1 || threads > 64 || n < 1 ||
		lookupPercent < 0 || lookupPercent > 100 {
		return -1
	}
	runtime.GOMAXPROCS(int(threads))
	res := make([]thResult, int(threads))
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	ready.Add(int(threads))
	done.Add(int(threads))
	for t := 0; t < int(threads); t++ {
		go func(id int) {
			defer done.Done()
			kinds, keys := thScript(uint64(seed), int(dist), uint64(n), uint64(opsPerThread), id,
				uint64(lookupPercent))
			ready.Done()
			<-gate
			res[id].checksum = thRun(m, kinds, keys)
		}(t)
	}
	ready.Wait()
	t0 := time.Now()
	close(gate)
	done.Wait()
	wall := time.Since(t0)
	var sum uint64
	for i := range res {
		sum += res[i].checksum
	}
	*wallNs = C.uint64_t(wall.Nanoseconds())
	*checksum = C.uint64_t(sum)
	return 0
}
