// Package testrand gives tests a seedable random source.
//
// Every test that needs randomness calls New(t) or Seed(t). The seed is
// fixed by default so that `go test` is reproducible; the flag
//
//	go test ./... -args -testrand.seed=0
//
// asks for a random seed, which is logged so that a failure can be replayed
// with -testrand.seed=N.
package testrand

import (
	"flag"
	"math/rand/v2"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("testrand.seed", 1, "seed for test randomness (0 = random, logged)")

// Seed returns the seed for this run: the -testrand.seed flag, or a random
// seed (logged through t) when the flag is 0.
func Seed(t testing.TB) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
		t.Logf("testrand: seed %d", s)
	}
	return s
}

// New returns a *rand.Rand seeded from Seed(t). Each call returns a fresh
// generator with the same seed, so independent subtests see the same stream.
func New(t testing.TB) *rand.Rand {
	s := Seed(t)
	return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
}

// NewSource returns a PCG source derived from Seed(t) and a per-use salt,
// so that different consumers in one test draw different streams.
func NewSource(t testing.TB, salt uint64) rand.Source {
	s := Seed(t)
	return rand.NewPCG(s, salt)
}
