package ode

import (
	"fmt"
	"math"
	"testing"
)

var allTableaux = []*Tableau{Euler, Midpoint, Heun, RK4, RK38, HeunEuler, BogackiShampine, Fehlberg45, CashKarp, DormandPrince5, Tsit5, DOP853}

var adaptiveTableaux = []*Tableau{HeunEuler, BogackiShampine, Fehlberg45, CashKarp, DormandPrince5, Tsit5, DOP853}

// rootedTree is a rooted tree given by the indices of its children's trees
// (non-increasing) in the list of all trees.
type rootedTree struct {
	order    int
	children []int
	gamma    float64 // the density γ(t)
}

// treesUpTo returns every rooted tree with at most p vertices (1, 1, 2, 4,
// 9, 20, 48, 115 trees of orders 1…8), each once.
func treesUpTo(p int) []rootedTree {
	trees := []rootedTree{{order: 1, gamma: 1}}
	for n := 2; n <= p; n++ {
		var build func(rem, maxIdx int, ch []int)
		build = func(rem, maxIdx int, ch []int) {
			if rem == 0 {
				g := float64(n)
				for _, c := range ch {
					g *= trees[c].gamma
				}
				trees = append(trees, rootedTree{order: n, children: append([]int(nil), ch...), gamma: g})
				return
			}
			for i := maxIdx; i >= 0; i-- {
				if trees[i].order <= rem {
					build(rem-trees[i].order, i, append(ch, i))
				}
			}
		}
		build(n-1, len(trees)-1, nil)
	}
	return trees
}

// stageWeights returns, for each tree, the vector g_i(t) = Π_k (A g(t_k))_i
// over the stages of a (square, strictly lower triangular) A.
func stageWeights(trees []rootedTree, a [][]float64) [][]float64 {
	s := len(a)
	g := make([][]float64, len(trees))
	ag := make([][]float64, len(trees))
	for ti, tr := range trees {
		v := make([]float64, s)
		for i := range v {
			v[i] = 1
			for _, c := range tr.children {
				v[i] *= ag[c][i]
			}
		}
		g[ti] = v
		w := make([]float64, s)
		for i := range w {
			for j, aij := range a[i] {
				w[i] += aij * v[j]
			}
		}
		ag[ti] = w
	}
	return g
}

func TestTreeCounts(t *testing.T) {
	counts := make([]int, 9)
	for _, tr := range treesUpTo(8) {
		counts[tr.order]++
	}
	want := []int{0, 1, 1, 2, 4, 9, 20, 48, 115}
	for p := 1; p <= 8; p++ {
		if counts[p] != want[p] {
			t.Errorf("order %d: %d trees, want %d", p, counts[p], want[p])
		}
	}
}

// orderOf returns the largest p ≤ maxP such that b satisfies every order
// condition Σ b_i g_i(t) = 1/γ(t) with |t| ≤ p, to tolerance tol, and the
// largest residual among those conditions.
func orderOf(trees []rootedTree, g [][]float64, b []float64, maxP int, tol float64) (int, float64) {
	worst := make([]float64, maxP+2)
	for ti, tr := range trees {
		if tr.order > maxP+1 {
			continue
		}
		var v float64
		for i, bi := range b {
			v += bi * g[ti][i]
		}
		r := math.Abs(v-1/tr.gamma) * tr.gamma
		worst[tr.order] = math.Max(worst[tr.order], r)
	}
	p := 0
	res := 0.0
	for q := 1; q <= maxP+1; q++ {
		if worst[q] > tol {
			break
		}
		p = q
		res = math.Max(res, worst[q])
	}
	return p, res
}

func TestTableauConsistency(t *testing.T) {
	for _, tab := range allTableaux {
		if err := tab.Validate(); err != nil {
			t.Errorf("%s: %v", tab.Name, err)
		}
		if got := sum(tab.B); math.Abs(got-1) > 1e-14 {
			t.Errorf("%s: Σ b = %v", tab.Name, got)
		}
		for i := 1; i < len(tab.C); i++ {
			if d := math.Abs(sum(tab.A[i]) - tab.C[i]); d > 1e-14 {
				t.Errorf("%s: row %d sum − c = %.3g", tab.Name, i, d)
			}
		}
		if tab.BErr != nil {
			if d := math.Abs(sum(tab.BErr)); d > 1e-14 {
				t.Errorf("%s: Σ b_err = %.3g", tab.Name, d)
			}
		}
	}
}

func TestValidateRejects(t *testing.T) {
	bad := map[string]*Tableau{
		"row sum":   {Name: "x", Order: 1, C: []float64{0, 0.5}, A: [][]float64{{}, {0.4}}, B: []float64{0.5, 0.5}},
		"b sum":     {Name: "x", Order: 1, C: []float64{0, 1}, A: [][]float64{{}, {1}}, B: []float64{0.5, 0.6}},
		"berr sum":  {Name: "x", Order: 1, ErrOrder: 1, C: []float64{0, 1}, A: [][]float64{{}, {1}}, B: []float64{0.5, 0.5}, BErr: []float64{0.1, 0}},
		"c0":        {Name: "x", Order: 1, C: []float64{0.1}, A: [][]float64{{}}, B: []float64{1}},
		"A shape":   {Name: "x", Order: 1, C: []float64{0, 1}, A: [][]float64{{}, {0.5, 0.5}}, B: []float64{0.5, 0.5}},
		"fsal":      {Name: "x", Order: 1, C: []float64{0, 1}, A: [][]float64{{}, {1}}, B: []float64{0.5, 0.5}, FSAL: true},
		"no stages": {Name: "x", Order: 1},
		"errorder":  {Name: "x", Order: 1, C: []float64{0, 1}, A: [][]float64{{}, {1}}, B: []float64{0.5, 0.5}, BErr: []float64{-0.5, 0.5}},
		"denseP":    {Name: "x", Order: 1, C: []float64{0}, A: [][]float64{{}}, B: []float64{1}, DenseP: [][]float64{{1}}},
	}
	for name, tab := range bad {
		if tab.Validate() == nil {
			t.Errorf("%s: Validate accepted an invalid tableau", name)
		}
	}
}

// TestOrderConditions checks the order of each solution of each tableau by
// its rooted-tree conditions: B has order Order (and not Order+1), B − BErr
// has order EmbOrder, B − BErr2 order EmbOrder2.
func TestOrderConditions(t *testing.T) {
	trees := treesUpTo(9)
	for _, tab := range allTableaux {
		g := stageWeights(trees, tab.A)
		const tol = 1e-12
		check := func(what string, b []float64, want int) {
			p, res := orderOf(trees, g, b, want, tol)
			if p != want {
				t.Errorf("%s %s: satisfies the order conditions up to order %d, want exactly %d", tab.Name, what, p, want)
			} else {
				t.Logf("%s %s: order %d (max scaled residual %.2g)", tab.Name, what, p, res)
			}
		}
		check("solution", tab.B, tab.Order)
		if tab.BErr != nil {
			emb := make([]float64, len(tab.B))
			for i := range emb {
				emb[i] = tab.B[i] - tab.BErr[i]
			}
			check("embedded", emb, tab.EmbOrder)
		}
		if tab.BErr2 != nil {
			emb := make([]float64, len(tab.B))
			for i := range emb {
				emb[i] = tab.B[i] - tab.BErr2[i]
			}
			check("embedded2", emb, tab.EmbOrder2)
		}
	}
}

// extendedA returns the square coefficient matrix of the extended stages:
// the stages, then f(t+h, y1) if not FSAL (its row is B), then the extra
// dense stages.
func extendedA(tab *Tableau) [][]float64 {
	a := append([][]float64(nil), tab.A...)
	if !tab.FSAL {
		a = append(a, tab.B)
	}
	a = append(a, tab.DenseA...)
	ne := len(a)
	sq := make([][]float64, ne)
	for i := range sq {
		sq[i] = make([]float64, ne)
		copy(sq[i], a[i])
	}
	return sq
}

// TestDenseOrderConditions checks the continuous extension of each tableau
// with published dense output: its weights b_i(θ) = Σ_j P_ij θ^{j+1} satisfy
// Σ_i b_i(θ) g_i(t) = θ^|t| / γ(t) for |t| ≤ DenseOrder at several θ, and
// b_i(1) = b_i (the interpolant ends at y1).
func TestDenseOrderConditions(t *testing.T) {
	trees := treesUpTo(8)
	for _, tab := range allTableaux {
		p := tab.denseP()
		a := extendedA(tab)
		g := stageWeights(trees, a)
		for _, theta := range []float64{0.1, 0.37, 0.5, 0.82, 1} {
			bt := make([]float64, len(p))
			for i, row := range p {
				pw := theta
				for _, c := range row {
					bt[i] += c * pw
					pw *= theta
				}
			}
			if theta == 1 {
				for i := range bt {
					want := 0.0
					if i < len(tab.B) {
						want = tab.B[i]
					}
					if math.Abs(bt[i]-want) > 1e-13 {
						t.Errorf("%s: b_%d(1) = %v, want %v", tab.Name, i, bt[i], want)
					}
				}
			}
			worst := 0.0
			for ti, tr := range trees {
				if tr.order > tab.DenseOrder {
					continue
				}
				var v float64
				for i := range bt {
					v += bt[i] * g[ti][i]
				}
				want := math.Pow(theta, float64(tr.order)) / tr.gamma
				worst = math.Max(worst, math.Abs(v-want)*tr.gamma)
			}
			if worst > 1e-11 {
				t.Errorf("%s θ=%v: dense order-%d conditions violated by %.3g", tab.Name, theta, tab.DenseOrder, worst)
			}
		}
	}
}

func ExampleTableau() {
	fmt.Println(Dopri5.Name, Dopri5.Order, Dopri5.ErrOrder, Dopri5.Stages(), Dopri5.FSAL)
	// Output: dopri5 5 4 7 true
}
