package discrete

import (
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/internal/testrand"
)

func TestPermutationValues(t *testing.T) {
	p := NewPermutation([]int{2, 0, 1})
	x := mat.NewDense(2, 3, []float64{10, 20, 30, -1, -2, -3})
	var z mat.Dense
	ldj := []float64{0.5, -0.5}
	if err := p.Forward(&z, ldj, x); err != nil {
		t.Fatal(err)
	}
	want := []float64{30, 10, 20, -3, -1, -2}
	if !slices.Equal(z.RawMatrix().Data, want) {
		t.Errorf("Forward = %v, want %v", z.RawMatrix().Data, want)
	}
	if ldj[0] != 0.5 || ldj[1] != -0.5 {
		t.Errorf("ldj changed to %v", ldj)
	}
	var back mat.Dense
	if err := p.Inverse(&back, nil, &z); err != nil {
		t.Fatal(err)
	}
	if !mat.Equal(&back, x) {
		t.Errorf("Inverse(Forward(x)) = %v", back.RawMatrix().Data)
	}
	if got := NewReversePermutation(4).Perm(); !slices.Equal(got, []int{3, 2, 1, 0}) {
		t.Errorf("reverse permutation %v", got)
	}
}

func TestPermutationPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"repeat":       func() { NewPermutation([]int{0, 0}) },
		"out of range": func() { NewPermutation([]int{0, 2}) },
		"negative":     func() { NewPermutation([]int{-1, 0}) },
		"empty":        func() { NewPermutation(nil) },
		"random d=0":   func() { NewRandomPermutation(0, rand.NewPCG(1, 1)) },
		"random nil":   func() { NewRandomPermutation(3, nil) },
		"reverse d=0":  func() { NewReversePermutation(0) },
	} {
		if !panics(f) {
			t.Errorf("%s: no panic", name)
		}
	}
}

func TestRandomPermutationSeeded(t *testing.T) {
	seed := testrand.Seed(t)
	a := NewRandomPermutation(12, rand.NewPCG(seed, 1)).Perm()
	b := NewRandomPermutation(12, rand.NewPCG(seed, 1)).Perm()
	c := NewRandomPermutation(12, rand.NewPCG(seed, 2)).Perm()
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different permutations: %v, %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("different seeds gave the same permutation %v", a)
	}
	s := slices.Clone(a)
	slices.Sort(s)
	for i, v := range s {
		if v != i {
			t.Fatalf("%v is not a permutation", a)
		}
	}
}

func TestPermutationInputUnchangedByCaller(t *testing.T) {
	// Perm returns a copy: changing it does not change the layer.
	p := NewPermutation([]int{1, 0})
	p.Perm()[0] = 0
	if got := p.Perm(); !slices.Equal(got, []int{1, 0}) {
		t.Errorf("Perm aliasing: %v", got)
	}
}
