package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
)

func TestMADEMaskSmall(t *testing.T) {
	// Worked by hand from the definition.
	out, in := []int{1, 2}, []int{1, 2, 3}
	check.Unchanged(t, "hidden", []float64{1, 0, 0, 1, 1, 0}, MADEMask(out, in, false))
	check.Unchanged(t, "output", []float64{0, 0, 0, 1, 0, 0}, MADEMask(out, in, true))
	if got := fmt.Sprint(MADEInputDegrees([]int{2, 0, 1})); got != "[2 3 1]" {
		t.Errorf("MADEInputDegrees([2 0 1]) = %s, want [2 3 1]", got)
	}
	if got := fmt.Sprint(MADEHiddenDegrees(7, 4, 1, nil)); got != "[1 2 3 1 2 3 1]" {
		t.Errorf("cyclic hidden degrees = %s", got)
	}
	if got := fmt.Sprint(MADEOutputDegrees([]int{2, 1}, 3)); got != "[2 2 2 1 1 1]" {
		t.Errorf("output degrees = %s", got)
	}
	if got := fmt.Sprint(MADEHiddenDegrees(3, 1, 1, nil)); got != "[0 0 0]" {
		t.Errorf("d = 1 hidden degrees = %s", got)
	}
	r := MADEHiddenDegrees(500, 6, 2, rand.NewPCG(1, 2))
	seen := map[int]bool{}
	for _, d := range r {
		if d < 2 || d > 5 {
			t.Fatalf("random degree %d outside [2, 5]", d)
		}
		seen[d] = true
	}
	if len(seen) != 4 {
		t.Errorf("random degrees cover %v, want all of 2..5", seen)
	}
	for _, order := range [][]int{{0, 0}, {1, 2}, {-1, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("order %v: no panic", order)
				}
			}()
			MADEInputDegrees(order)
		}()
	}
}

// TestMADEJacobianTriangular builds masked MLPs for several orders and
// checks numerically that output o (variable o/mult) depends on input i
// only if i comes strictly earlier in the order — from both the
// finite-difference Jacobian and the JVP — and, for full-width cyclic
// masks, that every allowed dependence is present.
func TestMADEJacobianTriangular(t *testing.T) {
	rnd := testrand.New(t)
	type mc struct {
		order    []int
		widths   []int
		mult     int
		residual bool
		random   bool
	}
	cases := []mc{
		{[]int{0, 1, 2, 3, 4}, []int{8, 8}, 1, false, false},
		{[]int{4, 3, 2, 1, 0}, []int{8, 8}, 2, true, false},
		{[]int{2, 0, 4, 1, 3}, []int{9, 6, 9}, 3, false, true},
		{[]int{3, 1, 0, 2, 4}, []int{4}, 2, false, false},
		{[]int{1, 0, 2}, []int{5, 5, 5}, 2, true, false},
		{[]int{0}, []int{3}, 2, false, false},
	}
	for ci, c := range cases {
		t.Run(fmt.Sprint(ci), func(t *testing.T) {
			d := len(c.order)
			var src rand.Source
			if c.random {
				src = testrand.NewSource(t, 40+uint64(ci))
			}
			masks := MADEMasks(c.order, c.widths, c.mult, src)
			spec := ""
			for i, w := range c.widths {
				if i > 0 {
					spec += "-"
				}
				spec += fmt.Sprint(w)
			}
			p := &Params{}
			m, err := NewMLP(p, "made", MLPConfig{In: d, Out: d * c.mult, Hidden: spec, Act: Tanh, Residual: c.residual, Masks: masks}, testrand.NewSource(t, 3))
			if err != nil {
				t.Fatal(err)
			}
			randomize(p, rnd, 1) // masked weights too: they must have no effect
			pos := make([]int, d)
			for p, v := range c.order {
				pos[v] = p
			}
			ws := m.NewWorkspace(1, d)
			x := randSlice(rnd, d, 1)
			y := make([]float64, d*c.mult)
			f := func(y, x []float64) { m.Forward(ws, y, x) }
			jfd := check.Jacobian(f, d*c.mult, x)
			// The JVP with the d unit tangents gives Jᵀ row by row.
			m.Forward(ws, y, x)
			eye := make([]float64, d*d)
			for i := 0; i < d; i++ {
				eye[i*d+i] = 1
			}
			jt := make([]float64, d*d*c.mult)
			m.JVP(ws, jt, eye)
			full := !c.random && c.widths[0] >= d-1
			for o := 0; o < d*c.mult; o++ {
				v := o / c.mult
				for i := 0; i < d; i++ {
					a, b := jfd.At(o, i), jt[i*d*c.mult+o]
					if pos[i] >= pos[v] {
						if a != 0 || b != 0 {
							t.Errorf("output %d (variable %d) depends on input %d: fd %v, JVP %v", o, v, i, a, b)
						}
					} else if full && (a == 0 || b == 0) {
						t.Errorf("output %d (variable %d) misses allowed input %d: fd %v, JVP %v", o, v, i, a, b)
					}
				}
			}
		})
	}
}
