package par

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// count is a Task that adds its rows to a shared total and records the
// goroutine-independent result in its own slot.
type count struct {
	out  []int
	lo   int
	runs atomic.Int64
}

func (c *count) Run() {
	for i := range c.out {
		c.out[i] = c.lo + i
	}
	c.runs.Add(1)
}

func TestDoRunsBothHalves(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		out := make([]int, 1000)
		a := &count{out: out[:500], lo: 0}
		b := &count{out: out[500:], lo: 500}
		for rep := 0; rep < 200; rep++ {
			clear(out)
			Do(a, b)
			for i, v := range out {
				if v != i {
					t.Fatalf("procs %d rep %d: out[%d] = %d", procs, rep, i, v)
				}
			}
			if rep%50 == 0 {
				time.Sleep(300 * time.Microsecond) // let the helpers park
			}
		}
		if a.runs.Load() != 200 || b.runs.Load() != 200 {
			t.Fatalf("procs %d: ran %d and %d times", procs, a.runs.Load(), b.runs.Load())
		}
	}
}

// Concurrent callers: each Do still returns only after both of its halves.
func TestDoConcurrentCallers(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]int, 64)
			a, b := &count{out: out[:32], lo: g}, &count{out: out[32:], lo: g + 32}
			for range 300 {
				clear(out)
				Do(a, b)
				for i, v := range out {
					if v != g+i {
						errs <- "a half had not finished when Do returned"
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// A helper that is slow to finish (its half takes much longer than the
// caller's) makes Do run serially for a while.
type sleeper struct{ d time.Duration }

func (s sleeper) Run() { time.Sleep(s.d) }

func resetThrottle() {
	backoffUntil.Store(0)
	backoff.Store(int64(minBackoff))
	strikes.Store(0)
}

func TestThrottle(t *testing.T) {
	defer resetThrottle()
	us := time.Microsecond
	resetThrottle()
	// Waits within the work (+20 µs) never throttle.
	for range 10 {
		throttle(100*us, 110*us)
	}
	if backoffUntil.Load() != 0 {
		t.Fatal("balanced calls started a serial period")
	}
	// Two slow calls in a row do not; a third does, for 50 ms.
	throttle(10*us, 100*us)
	throttle(10*us, 100*us)
	if backoffUntil.Load() != 0 {
		t.Fatal("two slow calls started a serial period")
	}
	before := time.Now().UnixNano()
	throttle(10*us, 100*us)
	if d := backoffUntil.Load() - before; d < int64(40*time.Millisecond) || d > int64(60*time.Millisecond) {
		t.Fatalf("third slow call: serial for %v, want 50ms", time.Duration(d))
	}
	// Found slow again (three more slow calls, however slow): twice as
	// long.
	throttle(10*us, time.Millisecond)
	throttle(10*us, time.Millisecond)
	if d := backoffUntil.Load() - time.Now().UnixNano(); d > int64(60*time.Millisecond) {
		t.Fatal("two slow calls started a longer serial period")
	}
	throttle(10*us, time.Millisecond)
	if d := backoffUntil.Load() - time.Now().UnixNano(); d < int64(90*time.Millisecond) {
		t.Fatalf("slow again: serial for %v, want 100ms", time.Duration(d))
	}
	// A balanced call resets the period to 50 ms.
	throttle(100*us, 0)
	if backoff.Load() != int64(minBackoff) || strikes.Load() != 0 {
		t.Fatal("a balanced call did not reset the throttle")
	}
	// During a serial period Do runs both halves on the caller.
	backoffUntil.Store(time.Now().Add(time.Second).UnixNano())
	out := make([]int, 10)
	a, b := &count{out: out[:5]}, &count{out: out[5:], lo: 5}
	Do(a, b)
	if a.runs.Load() != 1 || b.runs.Load() != 1 || out[9] != 9 {
		t.Fatal("serial Do did not run both halves")
	}
}

// End to end: a polling helper that takes 1 ms for its half, three calls in
// a row, starts a serial period.
func TestThrottleEndToEnd(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("no helper on one CPU")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer resetThrottle()
	runtime.GOMAXPROCS(2)
	resetThrottle()
	// A parked or busy helper declines (and is woken): try until one takes
	// the slow half.
	for try := 0; try < 200 && backoffUntil.Load() == 0; try++ {
		Do(sleeper{}, sleeper{}) // wakes a parked helper
		for range 3 {
			Do(sleeper{}, sleeper{time.Millisecond})
		}
	}
	if backoffUntil.Load() == 0 {
		t.Skip("the helper never took a half (a loaded machine)")
	}
}

func TestDoAllocs(t *testing.T) {
	out := make([]int, 100)
	a, b := &count{out: out[:50]}, &count{out: out[50:], lo: 50}
	Do(a, b)
	if got := testing.AllocsPerRun(100, func() { Do(a, b) }); got != 0 {
		t.Errorf("%v allocations per Do", got)
	}
}
