package vectorfield

import "sync"

// pool is a set of persistent worker goroutines, so that splitting a call's
// rows across goroutines allocates nothing. Worker 0 is always the calling
// goroutine; pool goroutine i runs worker i ≥ 1. The task is published in
// engine.cur before the start signals, and every result is read after the
// done signals, so the channel operations order all memory accesses.
type pool struct {
	start []chan struct{} // start[i-1] wakes worker i
	done  chan struct{}
	once  sync.Once
}

func newPool(e *engine, workers int) *pool {
	p := &pool{done: make(chan struct{}, workers)}
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
func (p *pool) run(e *engine, nw int) {
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
