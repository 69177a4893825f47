// gort.go — the real Go runtime map as a mapbench peer: batch entry points
// for the memory phase script (harness/gomem.c), built with
// `go build -buildmode=c-shared` into libmbgort.so.  gort.h is the ABI.
//
// Only the u64->u64 blueprint: map[uint64]uint64, so the runtime's
// specialised fast64 paths run (mapassign_fast64, mapaccess2_fast64,
// mapdelete_fast64), as in any Go program with such a map.
//
// Handles: C may not keep Go pointers (cgo's pointer rules), so the maps live
// in a Go-side table and C holds their index + 1.  The table keeps each map
// reachable until GortFree drops it; then the map is garbage, collected by
// the next GC cycle, not at once.
//
// Each phase runs entirely inside Go (one cgo call per phase), with keys
// generated in Go from the same stream as workloads/workload.c (stream.go),
// so the timing has no per-key cgo crossing and the heap holds nothing but
// the map and the runtime's own state.
package main

/*
#include <stdint.h>
#include "gort.h"
*/
import "C"

import (
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"
	"unsafe"
)

var (
	tabMu sync.Mutex
	tab   []map[uint64]uint64 // handle h is tab[h-1]; nil once freed (slot reused)
)

// lookupMap returns the map of handle h, or nil for a bad or freed handle.
func lookupMap(h C.int) map[uint64]uint64 {
	tabMu.Lock()
	defer tabMu.Unlock()
	if h < 1 || int(h) > len(tab) {
		return nil
	}
	return tab[h-1]
}

// GortNew returns the handle (>= 1) of a new map made with make(map, hint).
//
//export GortNew
func GortNew(hint C.uint64_t) C.int {
	m := make(map[uint64]uint64, int(hint))
	tabMu.Lock()
	defer tabMu.Unlock()
	for i := range tab {
		if tab[i] == nil {
			tab[i] = m
			return C.int(i + 1)
		}
	}
	tab = append(tab, m)
	return C.int(len(tab))
}

// GortLen returns len(m), or -1 for a bad handle.
//
//export GortLen
func GortLen(h C.int) C.int64_t {
	m := lookupMap(h)
	if m == nil {
		return -1
	}
	return C.int64_t(len(m))
}

// GortInsertRange sets m[key(i)] = val(key(i)) for i in [lo, hi).  Returns
// how many keys were new (the growth of len(m): one hash operation per key,
// as in the C maps' insert), or -1 for a bad handle or distribution.
//
//export GortInsertRange
func GortInsertRange(h C.int, seed C.uint64_t, dist C.int, lo, hi C.uint64_t) C.int64_t {
	m := lookupMap(h)
	if m == nil || !validDist(int(dist)) {
		return -1
	}
	before := len(m)
	s, d := uint64(seed), int(dist)
	for i := uint64(lo); i < uint64(hi); i++ {
		k := keyAt(s, d, i)
		m[k] = valFor(k)
	}
	return C.int64_t(len(m) - before)
}

// GortDeleteRange deletes key(i) for i in [lo, hi).  Returns how many were
// found (the shrink of len(m)), or -1 for a bad handle or distribution.
//
//export GortDeleteRange
func GortDeleteRange(h C.int, seed C.uint64_t, dist C.int, lo, hi C.uint64_t) C.int64_t {
	m := lookupMap(h)
	if m == nil || !validDist(int(dist)) {
		return -1
	}
	before := len(m)
	s, d := uint64(seed), int(dist)
	for i := uint64(lo); i < uint64(hi); i++ {
		delete(m, keyAt(s, d, i))
	}
	return C.int64_t(before - len(m))
}

// GortLookupRange looks up key(i) for i in [lo, hi).  Returns how many were
// found, or -1 for a bad handle or distribution; *sum is workload.c's
// lookup checksum: mix over the answers, the value or 0 when absent.
//
//export GortLookupRange
func GortLookupRange(h C.int, seed C.uint64_t, dist C.int, lo, hi C.uint64_t, sum *C.uint64_t) C.int64_t {
	m := lookupMap(h)
	if m == nil || !validDist(int(dist)) {
		return -1
	}
	s, d := uint64(seed), int(dist)
	var found int64
	var acc uint64
	for i := uint64(lo); i < uint64(hi); i++ {
		v, ok := m[keyAt(s, d, i)]
		if ok {
			found++
		} else {
			v = 0
		}
		acc = mix(acc, v)
	}
	*sum = C.uint64_t(acc)
	return C.int64_t(found)
}

// clearMap empties m.  Go 1.19 has no clear builtin for maps; the compiler
// turns exactly this loop into one call of runtime.mapclear
// (cmd/compile/internal/walk/range.go, isMapClear), which keeps the bucket
// array (zeroed) and drops the overflow buckets and any old bucket array to
// the GC.  noinline: once a function holding the loop is inlined, Go 1.18+
// no longer sees the idiom (the loop's key moves to the caller's top;
// golang/go#53157) and emits an iterate-and-delete loop; GortClear was
// inlined into its cgo export wrapper and showed exactly that in
// `go tool objdump`.  tests/test_gort.py checks that mapclear is called.
//
//go:noinline
func clearMap(m map[uint64]uint64) {
	for k := range m {
		delete(m, k)
	}
}

// GortClear empties the map with runtime.mapclear (clearMap).  Returns 0, or
// -1 for a bad handle.
//
//export GortClear
func GortClear(h C.int) C.int {
	m := lookupMap(h)
	if m == nil {
		return -1
	}
	clearMap(m)
	return 0
}

// GortFree drops the table's reference to the map.  Nothing is freed now:
// the map's memory is garbage until the next GC cycle sweeps it (GortGC, or
// a cycle the runtime starts on its own).  Returns 0, or -1 for a bad handle.
//
//export GortFree
func GortFree(h C.int) C.int {
	tabMu.Lock()
	defer tabMu.Unlock()
	if h < 1 || int(h) > len(tab) || tab[h-1] == nil {
		return -1
	}
	tab[h-1] = nil
	return 0
}

// GortGC is the Go counterpart of malloc_trim(0): a full, blocking GC cycle
// (runtime.GC also finishes the sweep) and then debug.FreeOSMemory, which
// runs one more cycle and returns as much free heap to the OS as it can.
//
//export GortGC
func GortGC() {
	runtime.GC()
	debug.FreeOSMemory()
}

// GortGCOnly runs one full, blocking GC cycle (runtime.GC also finishes the
// sweep) and returns nothing to the OS: go-mem-case reads every sample after
// it, so HeapInuse is the live heap, not the live heap plus garbage that the
// next cycle would free (growth's old bucket arrays above all).
//
//export GortGCOnly
func GortGCOnly() {
	runtime.GC()
}

// GortRebuild is the remedy "rebuild the map": a new map sized for the live
// entries, every entry copied, and the handle moved to it.  The old map is
// garbage, freed by the next GC cycle.  Returns 0, or -1 for a bad handle.
//
//export GortRebuild
func GortRebuild(h C.int) C.int {
	tabMu.Lock()
	defer tabMu.Unlock()
	if h < 1 || int(h) > len(tab) || tab[h-1] == nil {
		return -1
	}
	old := tab[h-1]
	m2 := make(map[uint64]uint64, len(old))
	for k, v := range old {
		m2[k] = v
	}
	tab[h-1] = m2
	return 0
}

// gcValue is the 64-byte T of GortGCCost: no pointers, so map[uint64]T's
// buckets are noscan and the GC never looks inside them, while
// map[uint64]*T's buckets hold n pointers the mark phase must follow.
type gcValue [8]uint64

// gcCostKey is the i-th key of GortGCCost's maps: distinct (an odd multiplier
// is a bijection on uint64) and spread.
func gcCostKey(i uint64) uint64 { return i * 0x9e3779b97f4a7c15 }

// timeGCs runs gcs forced GCs and fills out's timing fields.
func timeGCs(gcs int, out *C.gort_gccost) {
	var before, after runtime.MemStats
	runtime.GC() // the map's own growth garbage goes first: it is not the map
	runtime.ReadMemStats(&before)
	ns := make([]float64, gcs)
	for j := range ns {
		t0 := time.Now()
		runtime.GC()
		ns[j] = float64(time.Since(t0).Nanoseconds())
	}
	runtime.ReadMemStats(&after)
	sort.Float64s(ns)
	out.forced_gcs = C.uint64_t(gcs)
	out.gc_ns_min = C.double(ns[0])
	if gcs%2 == 1 {
		out.gc_ns_median = C.double(ns[gcs/2])
	} else {
		out.gc_ns_median = C.double((ns[gcs/2-1] + ns[gcs/2]) / 2)
	}
	out.pause_total_ns = C.uint64_t(after.PauseTotalNs - before.PauseTotalNs)
	out.gc_cpu_fraction = C.double(after.GCCPUFraction)
	out.heap_inuse = C.uint64_t(after.HeapInuse)
}

// GortGCCost: see gort.h.  The map is checked (len and every value) after
// the GCs, and dropped and collected before returning.
//
//export GortGCCost
func GortGCCost(kind C.int, n C.uint64_t, gcs C.int, out *C.gort_gccost) C.int {
	if gcs < 1 || (kind != C.GORT_VALUES_INLINE && kind != C.GORT_VALUES_POINTER) {
		return -1
	}
	count := uint64(n)
	ok := true
	if kind == C.GORT_VALUES_INLINE {
		m := make(map[uint64]gcValue)
		for i := uint64(0); i < count; i++ {
			m[gcCostKey(i)] = gcValue{gcCostKey(i)}
		}
		timeGCs(int(gcs), out)
		for i := uint64(0); i < count; i++ {
			ok = ok && m[gcCostKey(i)][0] == gcCostKey(i)
		}
		out.entries = C.uint64_t(len(m))
	} else {
		m := make(map[uint64]*gcValue)
		for i := uint64(0); i < count; i++ {
			m[gcCostKey(i)] = &gcValue{gcCostKey(i)}
		}
		timeGCs(int(gcs), out)
		for i := uint64(0); i < count; i++ {
			ok = ok && m[gcCostKey(i)][0] == gcCostKey(i)
		}
		out.entries = C.uint64_t(len(m))
	}
	out.value_bytes = C.uint64_t(unsafe.Sizeof(gcValue{}))
	runtime.GC() // the map is dropped: leave the heap as it was
	if !ok {
		return -1
	}
	return 0
}

// GortMemStats fills *out from runtime.ReadMemStats (which stops the world
// for a moment).
//
//export GortMemStats
func GortMemStats(out *C.gort_memstats) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out.heap_alloc = C.uint64_t(ms.HeapAlloc)
	out.heap_inuse = C.uint64_t(ms.HeapInuse)
	out.heap_idle = C.uint64_t(ms.HeapIdle)
	out.heap_released = C.uint64_t(ms.HeapReleased)
	out.heap_sys = C.uint64_t(ms.HeapSys)
	out.sys = C.uint64_t(ms.Sys)
	out.num_gc = C.uint64_t(ms.NumGC)
	out.pause_total_ns = C.uint64_t(ms.PauseTotalNs)
	out.gc_cpu_fraction = C.double(ms.GCCPUFraction)
}

// GortKeyStream writes keys lo..lo+n-1 of the stream and their values into
// keys[0..n) and vals[0..n) (C arrays).  Returns 0, or -1 for a bad
// distribution.
//
//export GortKeyStream
func GortKeyStream(seed C.uint64_t, dist C.int, lo, n C.uint64_t, keys, vals *C.uint64_t) C.int {
	if !validDist(int(dist)) {
		return -1
	}
	ks := unsafe.Slice((*uint64)(unsafe.Pointer(keys)), int(n))
	vs := unsafe.Slice((*uint64)(unsafe.Pointer(vals)), int(n))
	for j := range ks {
		ks[j] = keyAt(uint64(seed), int(dist), uint64(lo)+uint64(j))
		vs[j] = valFor(ks[j])
	}
	return 0
}

// GortVersion writes runtime.Version() ("go1.19.8") into buf[0..n) as a
// NUL-terminated string, cut short if it does not fit.  Returns the whole
// version's length, as snprintf does (>= n: it was cut), or -1 when n < 1.
//
//export GortVersion
func GortVersion(buf *C.char, n C.int) C.int {
	if n < 1 {
		return -1
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	v := runtime.Version()
	w := copy(b[:n-1], v)
	b[w] = 0
	return C.int(len(v))
}

// main is required by package main; a c-shared library never runs it.
func main() {}
