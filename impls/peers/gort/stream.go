// stream.go — the workload key stream of workloads/workload.c, ported bit
// for bit, so that the Go map sees exactly the keys the C maps see.
// harness/gomem.c checks the first keys and values against the C side on
// every run (and `mapbench go-mem-case --print-keys K` shows them).

package main

// Key distributions: the values of mb_dist (workloads/workload.h).
const (
	distUniform    = 0 // uniform 64-bit keys
	distSequential = 1 // 0, 1, 2, ...
)

// splitmix64 is mb_splitmix64: advances *state by the golden gamma and
// returns the mixed state.
func splitmix64(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	z := *state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// keyAt is mb_key_at: key i of the stream.  A bijection of i, so keys
// [0, n) are distinct and never meet keys [n, 2n).
func keyAt(seed uint64, dist int, i uint64) uint64 {
	if dist == distSequential {
		return i
	}
	state := seed + i*0x9e3779b97f4a7c15
	return splitmix64(&state)
}

// valFor is mb_val_for: the value stored for key k.
func valFor(k uint64) uint64 {
	return k*0xd6e8feb86659fd93 + 0x2545f4914f6cdd1d
}

// mix is workload.c's wl_mix: folds one answer into a checksum that also
// depends on the answer's position.
func mix(acc, x uint64) uint64 {
	return (acc^x)*0x100000001b3 + 0x9e3779b97f4a7c15
}

// validDist reports whether dist names a distribution this port knows.
func validDist(dist int) bool {
	return dist == distUniform || dist == distSequential
}
