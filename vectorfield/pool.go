package vectorfield

import (
	"sync"

	"github.com/odeflow/odeflow/internal/par"
)

// pool is a set of persistent worker goroutines, so that splitting a call's
// rows across goroutines allocates nothing. Worker 0 is always the calling
// goroutine; pool goroutine i runs worker i ≥ 1. The task is published in
// engine.cur before the start signals, and every result is read after the
// done signals, so the channel operations order all memory accesses.
type pool struct {
	start  []chan struct{} // start[i-1] wakes worker i
	done   chan struct{}
	once   sync.Once
	halves [2]workerTask // the two workers of a two-way split, for par.Do
}

// workerTask runs worker i of the engine's current task (a par.Task).
type workerTask struct {
	e *engine
	i int
}

func (t *workerTask) Run() { t.e.runWorker(t.i) }

func newPool(e *engine, workers int) *pool {
	p := &pool{done: make(chan struct{}, workers)}
	p.halves = [2]workerTask{{e, 0}, {e, 1}}
	if workers <= 2 {
		return p // two-way splits run on internal/par: no goroutines of our own
	}
	for i := 1; i < workers; i++ {
		ch := make(chan struct{})
		p.start = append(p.start, ch)
		go func() {
			for range ch {
				e.runWorker(i)
				p.done <- struct{}{}
			}
		}()
	}
	return p
}

// run executes workers 0..nw-1 on the current task and waits for them.
//
// A two-way split runs on internal/par's polling helper rather than on a
// pool goroutine: handing a part to a parked goroutine (a channel send)
// costs tens of microseconds, as much as the part itself at a hundred
// rows.
func (p *pool) run(e *engine, nw int) {
	if nw == 2 {
		par.Do(&p.halves[0], &p.halves[1])
		return
	}
	for i := 1; i < nw; i++ {
		p.start[i-1] <- struct{}{}
	}
	e.runWorker(0)
	for i := 1; i < nw; i++ {
		<-p.done
	}
}

// close stops the goroutines. It is called by a cleanup once the owning MLP
// is unreachable.
func (p *pool) close() {
	p.once.Do(func() {
		for _, ch := range p.start {
			close(ch)
		}
	})
}
