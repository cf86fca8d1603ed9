package nn

import (
	"fmt"
	"strings"
)

// Slot locates one named block of parameters inside a flat vector.
type Slot struct {
	Off, Len int
}

// Of returns the part of v that the slot covers (v is a full-length parameter
// or gradient vector). The result shares v's storage and has capacity Len.
func (s Slot) Of(v []float64) []float64 { return v[s.Off : s.Off+s.Len : s.Off+s.Len] }

// at is Of for a vector v that holds the parameters from index off on.
func (s Slot) at(v []float64, off int) []float64 {
	o := s.Off - off
	return v[o : o+s.Len : o+s.Len]
}

// View describes one named block of a Params.
type View struct {
	Name   string
	Slot   Slot
	Frozen bool // a frozen block is a non-trainable buffer: optimizers leave it alone
}

// Params is a model's parameters as one flat vector, so that an optimizer,
// a gradient clipper or an adjoint ODE state sees a single []float64.
//
// Layers Reserve named blocks when they are built and keep the returned Slot;
// they read their weights as slot.Of(p.Data) at call time, so growing Data
// while building never leaves a layer with a stale slice. Gradients are
// accumulated by layers into a caller-supplied full-length vector (often
// p.Grad, but an adjoint may pass part of its ODE state, and a worker
// goroutine its own buffer), aligned with Data.
//
// The zero value is an empty, usable Params.
type Params struct {
	Data  []float64
	Grad  []float64
	views []View
}

// Reserve appends a block of n zero parameters named name and returns its
// slot. Names should be unique and use "/" to nest ("block0/layer1/W").
// It panics if n < 0 or the name is already taken.
func (p *Params) Reserve(name string, n int) Slot {
	if n < 0 {
		panic("nn: negative parameter count")
	}
	if _, ok := p.Lookup(name); ok {
		panic(fmt.Sprintf("nn: duplicate parameter name %q", name))
	}
	s := Slot{Off: len(p.Data), Len: n}
	p.Data = append(p.Data, make([]float64, n)...)
	p.Grad = append(p.Grad, make([]float64, n)...)
	p.views = append(p.views, View{Name: name, Slot: s})
	return s
}

// Len returns the number of parameters, frozen or not.
func (p *Params) Len() int { return len(p.Data) }

// Views returns the named blocks in the order they were reserved.
func (p *Params) Views() []View { return append([]View(nil), p.views...) }

// Lookup returns the slot of the block named name.
func (p *Params) Lookup(name string) (Slot, bool) {
	for _, v := range p.views {
		if v.Name == name {
			return v.Slot, true
		}
	}
	return Slot{}, false
}

// SetFrozen freezes (or unfreezes) every block whose name equals prefix or
// starts with prefix+"/". It returns how many blocks it changed.
func (p *Params) SetFrozen(prefix string, frozen bool) int {
	n := 0
	for i, v := range p.views {
		if v.Name == prefix || strings.HasPrefix(v.Name, prefix+"/") {
			p.views[i].Frozen = frozen
			n++
		}
	}
	return n
}

// Trainable writes into dst (allocated when nil) whether each parameter is
// trainable and returns it. It panics if a non-nil dst has the wrong length.
func (p *Params) Trainable(dst []bool) []bool {
	if dst == nil {
		dst = make([]bool, len(p.Data))
	}
	if len(dst) != len(p.Data) {
		panic("nn: Trainable length mismatch")
	}
	for _, v := range p.views {
		for i := v.Slot.Off; i < v.Slot.Off+v.Slot.Len; i++ {
			dst[i] = !v.Frozen
		}
	}
	return dst
}

// ZeroGrad sets Grad to zero.
func (p *Params) ZeroGrad() {
	for i := range p.Grad {
		p.Grad[i] = 0
	}
}
