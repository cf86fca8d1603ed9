package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
)

// adamCoefs returns coefficients of step t of Adam (l2 > 0) or AdamW.
func adamCoefs(t int, lr, wd float64, decoupled bool) *AdamCoef {
	const b1, b2 = 0.9, 0.999
	c := &AdamCoef{B1: b1, A1: 1 - b1, B2: b2, A2: 1 - b2, Eps: 1e-8,
		IVC: 1 / (1 - math.Pow(b2, float64(t))), Step: lr / (1 - math.Pow(b1, float64(t)))}
	if decoupled {
		c.Decay = lr * wd
	} else {
		c.L2 = wd
	}
	return c
}

// TestAdamKernelsAgree runs every kernel on the same state for several
// lengths (whole vectors and tails) and coefficient sets, and requires
// the bits of the portable loop, which is checked against the formula.
func TestAdamKernelsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	defer func(k *impl) { active = k }(active)
	for _, n := range []int{0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 64, 1001} {
		for ci, c := range []*AdamCoef{adamCoefs(1, 1e-3, 0, false), adamCoefs(7, 3e-3, 0.1, false), adamCoefs(250, 1e-2, 1, true)} {
			x0, g := make([]float64, n), make([]float64, n)
			m0, v0 := make([]float64, n), make([]float64, n)
			for i := range x0 {
				x0[i] = rng.NormFloat64()
				g[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-6))
				m0[i] = rng.NormFloat64() * 0.1
				v0[i] = rng.Float64() * 0.01
			}
			if n > 2 {
				g[1] = 0
				m0[1], v0[1] = 0, 0 // a parameter whose gradient was always 0
			}
			var ref []float64
			for _, kn := range all {
				active = kn
				x, m, v := clone(x0), clone(m0), clone(v0)
				Adam(x, g, m, v, c)
				got := append(append(x, m...), v...)
				if ref == nil {
					ref = got
					// The formula, in the documented order.
					for i := range x0 {
						gi := g[i] + c.L2*x0[i]
						mi := c.B1*m0[i] + c.A1*gi
						vi := c.B2*v0[i] + c.A2*(gi*gi)
						want := (x0[i] - c.Decay*x0[i]) - c.Step*mi/(math.Sqrt(vi*c.IVC)+c.Eps)
						if x[i] != want || m[i] != mi || v[i] != vi {
							t.Fatalf("%s n=%d coef %d i=%d: x %v m %v v %v, want %v %v %v", kn.name, n, ci, i, x[i], m[i], v[i], want, mi, vi)
						}
					}
					continue
				}
				for i := range ref {
					if math.Float64bits(got[i]) != math.Float64bits(ref[i]) {
						t.Fatalf("%s n=%d coef %d: element %d of (x, m, v) is %v, portable loop %v", kn.name, n, ci, i, got[i], ref[i])
					}
				}
			}
		}
	}
}

func TestReLUDKernelsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	defer func(k *impl) { active = k }(active)
	special := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), 1e-310, -1e-310, math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64}
	for _, n := range []int{0, 1, 4, 7, 8, 13, 16, 29, 300} {
		x := make([]float64, n)
		for i := range x {
			if rng.IntN(4) == 0 {
				x[i] = special[rng.IntN(len(special))]
			} else {
				x[i] = rng.NormFloat64()
			}
		}
		for _, kn := range all {
			active = kn
			y, d1 := make([]float64, n), make([]float64, n)
			ReLUD(y, d1, x)
			for i, v := range x {
				wy, wd := 0.0, 0.0
				switch {
				case v > 0:
					wy, wd = v, 1
				case math.IsNaN(v):
					wy, wd = v, v
				}
				if math.Float64bits(y[i]) != math.Float64bits(wy) || math.Float64bits(d1[i]) != math.Float64bits(wd) {
					t.Fatalf("%s n=%d: ReLUD(%v) = %v, %v; want %v, %v", kn.name, n, v, y[i], d1[i], wy, wd)
				}
			}
			// In place.
			z := clone(x)
			ReLUD(z, d1, z)
			for i, v := range x {
				if !(z[i] == max(v, 0) || math.IsNaN(v) && math.IsNaN(z[i])) || math.Signbit(z[i]) && !math.IsNaN(v) {
					t.Fatalf("%s n=%d: in place ReLUD(%v) = %v", kn.name, n, v, z[i])
				}
			}
		}
	}
}

func TestAdamReLUPanicsAndAllocs(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	a, b := make([]float64, 5), make([]float64, 4)
	c := adamCoefs(1, 1e-3, 0, false)
	mustPanic("Adam short g", func() { Adam(a, b, a, a, c) })
	mustPanic("Adam short v", func() { Adam(a, a, a, b, c) })
	mustPanic("ReLUD short d1", func() { ReLUD(a, b, a) })
	x, g, m, v := make([]float64, 67), make([]float64, 67), make([]float64, 67), make([]float64, 67)
	if got := testing.AllocsPerRun(10, func() { Adam(x, g, m, v, c); ReLUD(x, g, m) }); got != 0 {
		t.Errorf("%v allocations per call", got)
	}
}

func clone(s []float64) []float64 { return append([]float64(nil), s...) }

func TestMulAddKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	defer func(k *impl) { active = k }(active)
	for _, n := range []int{0, 1, 3, 4, 5, 8, 11, 16, 23, 130} {
		a, b := make([]float64, n), make([]float64, n)
		for i := range a {
			a[i], b[i] = rng.NormFloat64(), rng.NormFloat64()
		}
		if n > 3 {
			a[2], b[3] = math.NaN(), math.Inf(-1)
		}
		for _, kn := range all {
			active = kn
			dst := make([]float64, n)
			Mul(dst, a, b)
			sum := clone(a)
			Add(sum, b)
			sq := clone(a)
			Mul(sq, sq, sq) // aliased
			fma := clone(b)
			MulAdd(fma, a, b)
			for i := range a {
				same := func(got, want float64) bool {
					return math.Float64bits(got) == math.Float64bits(want) || math.IsNaN(got) && math.IsNaN(want)
				}
				if !same(dst[i], a[i]*b[i]) || !same(sum[i], a[i]+b[i]) || !same(sq[i], a[i]*a[i]) || !same(fma[i], b[i]+float64(a[i]*b[i])) {
					t.Fatalf("%s n=%d i=%d: Mul %v Add %v Mul aliased %v MulAdd %v", kn.name, n, i, dst[i], sum[i], sq[i], fma[i])
				}
			}
		}
	}
	mustPanic := func(f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Error("no panic")
			}
		}()
		f()
	}
	mustPanic(func() { Mul(make([]float64, 3), make([]float64, 3), make([]float64, 2)) })
	mustPanic(func() { Add(make([]float64, 3), make([]float64, 4)) })
	mustPanic(func() { MulAdd(make([]float64, 3), make([]float64, 3), make([]float64, 4)) })
}

func TestSumSq(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	defer func(k *impl) { active = k }(active)
	for _, n := range []int{0, 1, 5, 15, 16, 17, 31, 32, 33, 100, 1000, 4099} {
		x := make([]float64, n)
		for i := range x {
			x[i] = rng.NormFloat64() * math.Pow(2, float64(rng.IntN(21)-10))
		}
		// Reference: compensated (Neumaier) sum of exact-enough squares.
		sum, comp := 0.0, 0.0
		for _, v := range x {
			sq := v * v
			tt := sum + sq
			if math.Abs(sum) >= math.Abs(sq) {
				comp += (sum - tt) + sq
			} else {
				comp += (sq - tt) + sum
			}
			sum = tt
		}
		want := sum + comp
		for _, kn := range all {
			active = kn
			got := SumSq(x)
			if math.Abs(got-want) > 1e-14*want+1e-300 {
				t.Errorf("%s n=%d: SumSq = %v, want %v", kn.name, n, got, want)
			}
			if got2 := SumSq(x); math.Float64bits(got2) != math.Float64bits(got) {
				t.Errorf("%s n=%d: SumSq not repeatable", kn.name, n)
			}
			if n > 0 {
				y := clone(x)
				y[n/2] = math.NaN()
				if v := SumSq(y); !math.IsNaN(v) {
					t.Errorf("%s n=%d: NaN gives %v", kn.name, n, v)
				}
				y[n/2] = math.Inf(-1)
				if v := SumSq(y); !math.IsInf(v, 1) {
					t.Errorf("%s n=%d: -Inf gives %v", kn.name, n, v)
				}
			}
		}
	}
	if got := testing.AllocsPerRun(10, func() { SumSq(make([]float64, 0)) }); got != 0 {
		t.Errorf("%v allocations", got)
	}
}
