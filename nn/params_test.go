package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestParamsReserveLookup(t *testing.T) {
	var p Params
	a := p.Reserve("enc/W", 6)
	b := p.Reserve("enc/b", 3)
	c := p.Reserve("encoder/W", 2)
	e := p.Reserve("empty", 0)
	if a != (Slot{0, 6}) || b != (Slot{6, 3}) || c != (Slot{9, 2}) || e != (Slot{11, 0}) {
		t.Fatalf("slots %v %v %v %v", a, b, c, e)
	}
	if p.Len() != 11 || len(p.Grad) != 11 {
		t.Fatalf("Len %d, len(Grad) %d, want 11", p.Len(), len(p.Grad))
	}
	for name, want := range map[string]Slot{"enc/W": a, "enc/b": b, "encoder/W": c, "empty": e} {
		if got, ok := p.Lookup(name); !ok || got != want {
			t.Errorf("Lookup(%q) = %v, %v", name, got, ok)
		}
	}
	if _, ok := p.Lookup("enc"); ok {
		t.Error("Lookup of a prefix succeeded")
	}
	// Slot.Of shares storage and cannot grow into the next block.
	w := b.Of(p.Data)
	w[0] = 5
	if p.Data[6] != 5 || cap(w) != 3 {
		t.Errorf("Of: Data[6] = %v, cap %d", p.Data[6], cap(w))
	}
	// Views is a copy in reservation order.
	vs := p.Views()
	if len(vs) != 4 || vs[0].Name != "enc/W" || vs[3].Name != "empty" {
		t.Fatalf("Views = %+v", vs)
	}
	vs[0].Frozen = true
	if p.Views()[0].Frozen {
		t.Error("Views returned shared storage")
	}
	for _, f := range []func(){func() { p.Reserve("enc/W", 1) }, func() { p.Reserve("neg", -1) }} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}

func TestParamsFreezeTrainable(t *testing.T) {
	var p Params
	p.Reserve("enc/W", 2)
	p.Reserve("enc/b", 1)
	p.Reserve("encoder/W", 2)
	p.Reserve("dec", 1)
	if n := p.SetFrozen("enc", true); n != 2 {
		t.Errorf("SetFrozen(enc) changed %d blocks, want 2 (not encoder/W)", n)
	}
	want := []bool{false, false, false, true, true, true}
	got := p.Trainable(nil)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Trainable = %v, want %v", got, want)
		}
	}
	if n := p.SetFrozen("dec", true); n != 1 {
		t.Errorf("SetFrozen(dec) = %d", n)
	}
	p.SetFrozen("enc/b", false)
	dst := make([]bool, 6)
	p.Trainable(dst)
	want = []bool{false, false, true, true, true, false}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("Trainable = %v, want %v", dst, want)
		}
	}
	if n := p.SetFrozen("nothing", true); n != 0 {
		t.Errorf("SetFrozen(nothing) = %d", n)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Trainable with a short dst did not panic")
			}
		}()
		p.Trainable(make([]bool, 2))
	}()
	for i := range p.Grad {
		p.Grad[i] = 3
	}
	p.ZeroGrad()
	for i, g := range p.Grad {
		if g != 0 {
			t.Fatalf("Grad[%d] = %v after ZeroGrad", i, g)
		}
	}
}

// TestInitDistributions checks each scheme's range and variance against its
// formula, within 5 standard errors of the sample variance.
func TestInitDistributions(t *testing.T) {
	const n = 40000
	fanIn, fanOut := 30, 50
	src := rand.NewPCG(11, 12)
	for _, c := range []struct {
		init     Init
		variance float64
		bound    float64 // 0: unbounded
		kurtosis float64 // E[w⁴]/σ⁴
	}{
		{GlorotUniform, 2.0 / 80, math.Sqrt(6.0 / 80), 9.0 / 5},
		{GlorotNormal, 2.0 / 80, 0, 3},
		{HeUniform, 2.0 / 30, math.Sqrt(6.0 / 30), 9.0 / 5},
		{HeNormal, 2.0 / 30, 0, 3},
	} {
		w := make([]float64, n)
		c.init.Fill(w, fanIn, fanOut, src)
		var s, s2 float64
		for _, v := range w {
			if c.bound > 0 && math.Abs(v) > c.bound {
				t.Fatalf("%v: |%v| exceeds bound %v", c.init, v, c.bound)
			}
			s += v
			s2 += v * v
		}
		mean, variance := s/n, s2/n
		if se := math.Sqrt(c.variance / n); math.Abs(mean) > 5*se {
			t.Errorf("%v: mean %v, want 0 ± %v", c.init, mean, 5*se)
		}
		if se := c.variance * math.Sqrt((c.kurtosis-1)/n); math.Abs(variance-c.variance) > 5*se {
			t.Errorf("%v: variance %v, want %v ± %v", c.init, variance, c.variance, 5*se)
		}
	}
	w := []float64{1, 2, 3}
	Zeros.Fill(w, 1, 1, nil)
	if w[0] != 0 || w[1] != 0 || w[2] != 0 {
		t.Errorf("Zeros: %v", w)
	}
	a, b := make([]float64, 8), make([]float64, 8)
	HeNormal.Fill(a, 4, 4, rand.NewPCG(3, 4))
	HeNormal.Fill(b, 4, 4, rand.NewPCG(3, 4))
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different weights")
		}
	}
	for _, f := range []func(){
		func() { GlorotUniform.Fill(w, 1, 1, nil) },
		func() { GlorotUniform.Fill(w, 0, 1, src) },
		func() { Init(9).Fill(w, 1, 1, src) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}
