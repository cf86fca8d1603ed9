package main

import (
	"math/rand/v2"
	"testing"
)

// TestReverseTimes checks the plot's trajectory times: they start exactly
// at T, end at 0 and decrease, for the T that once rounded above itself
// and for many random T.
func TestReverseTimes(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	ts := []float64{0.9367246562030102, 0.93672465620301, 0.5, 1e-9, 3}
	for range 10000 {
		ts = append(ts, rnd.Float64()*4)
	}
	for _, T := range ts {
		for _, steps := range []int{1, 7, 25, 100} {
			times := reverseTimes(T, steps)
			if times[0] != T || times[steps] != 0 {
				t.Fatalf("T = %v, steps = %d: ends %v, %v", T, steps, times[0], times[steps])
			}
			for j := 1; j <= steps; j++ {
				if !(times[j] < times[j-1]) || times[j] > T {
					t.Fatalf("T = %v, steps = %d: times[%d] = %v after %v", T, steps, j, times[j], times[j-1])
				}
			}
		}
	}
}
