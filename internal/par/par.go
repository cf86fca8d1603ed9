// Package par runs two pieces of work at once on a spinning helper
// goroutine, for splits of a few tens of microseconds, where starting a
// goroutine or waking a parked one costs as much as the work.
//
// Do(a, b) runs b on a helper and a on the calling goroutine, and returns
// when both are done. The helpers (one per CPU beyond the first) poll for
// work without yielding for 200 µs after their last task, then park; a
// parked helper is woken to take b (tens of microseconds), a busy one
// (another caller's) is not waited for: the caller then runs both halves
// itself. When the caller keeps waiting for a polling helper longer than
// it worked, three calls in a row (its thread is not getting a CPU: the
// machine is loaded), Do runs serially for 50 ms, twice as long each time
// the helpers are found slow again (up to 0.5 s). With GOMAXPROCS = 1 it
// always runs serially.
//
// The work must not depend on which goroutine runs it: callers split it
// the same way whether or not a helper takes a half, so that results do
// not depend on the number of threads.
package par

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Task is a piece of work for Do.
type Task interface{ Run() }

// spinFor is how long an idle helper polls for work before it parks.
const spinFor = 200 * time.Microsecond

const maxHelpers = 15

// Do runs a.Run() on the calling goroutine and b.Run() on an idle helper
// if one is free (else on the caller, after a), and returns when both have
// returned. It allocates nothing after the first call.
func Do(a, b Task) {
	if runtime.GOMAXPROCS(0) < 2 || time.Now().UnixNano() < backoffUntil.Load() {
		a.Run()
		b.Run()
		return
	}
	var (
		h      *helper
		gen    uint64
		parked bool
	)
	for _, c := range pool.helpers() {
		if g, p, ok := c.offer(b); ok {
			h, gen, parked = c, g, p
			break
		}
	}
	if h == nil {
		a.Run()
		b.Run()
		return
	}
	start := time.Now()
	a.Run()
	mid := time.Now()
	h.wait(gen)
	if !parked {
		// (A parked helper's wait includes waking its thread: not a
		// sign of load.)
		throttle(mid.Sub(start), time.Since(mid))
	}
}

// throttle watches how long Do waits for its helper after running its own
// half (see the package documentation).
func throttle(work, wait time.Duration) {
	if wait <= work+20*time.Microsecond {
		strikes.Store(0)
		backoff.Store(int64(minBackoff))
		return
	}
	if strikes.Add(1) < 3 {
		return
	}
	strikes.Store(0)
	d := backoff.Load()
	backoffUntil.Store(time.Now().UnixNano() + d)
	backoff.Store(min(2*d, int64(maxBackoff)))
}

const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 500 * time.Millisecond
)

var (
	backoffUntil atomic.Int64 // Unix ns until which Do is serial
	backoff      atomic.Int64 // the next serial period, ns
	strikes      atomic.Int32 // slow calls in a row
)

func init() { backoff.Store(int64(minBackoff)) }

// Helper states.
const (
	hIdle    = iota // polling, ready for a task
	hClaimed        // a caller is posting a task
	hWorking        // a task is posted or running
	hParked         // blocked on wake
)

// helper is one goroutine that runs the second halves of Do.
type helper struct {
	state    atomic.Int32
	finished atomic.Uint64 // tasks completed
	task     Task
	wake     chan struct{} // capacity 1
}

// offer posts t if the helper is idle (polling) or parked, and returns the
// number of finished tasks to wait beyond and whether it was parked; a busy
// helper declines. A parked helper is woken to run t (its thread takes tens
// of microseconds to wake).
func (h *helper) offer(t Task) (gen uint64, parked, ok bool) {
	if !h.state.CompareAndSwap(hIdle, hClaimed) {
		if !h.state.CompareAndSwap(hParked, hClaimed) {
			return 0, false, false
		}
		parked = true
	}
	gen = h.finished.Load()
	h.task = t
	h.state.Store(hWorking)
	if parked {
		h.wake <- struct{}{} // one token per park: the buffer has room
	}
	return gen, parked, true
}

// wait returns once the task posted after gen finished tasks is done.
func (h *helper) wait(gen uint64) {
	for i := 1; h.finished.Load() == gen; i++ {
		if i%4096 == 0 {
			runtime.Gosched()
		}
	}
}

// loop runs posted tasks, polling while idle for up to spinFor, then
// parking until offer wakes it. It polls without yielding: a yield would
// let the runtime resume it on the caller's thread, serializing the halves.
// (Do offers nothing with GOMAXPROCS = 1, so a helper then parks within
// spinFor and stays parked.)
func (h *helper) loop() {
	idle := time.Now()
	for i := 1; ; i++ {
		switch h.state.Load() {
		case hWorking:
			t := h.task
			h.task = nil
			t.Run()
			h.finished.Add(1)
			h.state.Store(hIdle)
			idle = time.Now()
			continue
		case hClaimed:
			continue
		}
		if i%1024 != 0 {
			continue
		}
		if time.Since(idle) > spinFor && h.state.CompareAndSwap(hIdle, hParked) {
			// Only offer moves a helper out of hParked (to post a task)
			// and then sends the token.
			<-h.wake
			idle = time.Now()
		}
	}
}

// helperPool starts the helpers on first use: as many as the CPUs less
// one, at most maxHelpers.
type helperPool struct {
	once sync.Once
	hs   []*helper
}

var pool helperPool

func (p *helperPool) helpers() []*helper {
	p.once.Do(func() {
		for range min(runtime.NumCPU()-1, maxHelpers) {
			h := &helper{wake: make(chan struct{}, 1)}
			p.hs = append(p.hs, h)
			go h.loop()
		}
	})
	return p.hs
}
