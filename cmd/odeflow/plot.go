package main

import (
	"context"
	"fmt"
	"image/color"
	"io"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/odeflow/odeflow/cnf"
	"github.com/odeflow/odeflow/model"
	"github.com/odeflow/odeflow/npy"
)

const plotUsage = `
Usage: odeflow plot --model MODEL [--data X.npy] [--context C.npy] --out FIG.png [flags]

Draws a picture of a 2-D model as a PNG, one panel beside the other: the
data (with --data), samples of the model, its density exp(log p) as a heat
map, and for a cnf model the paths of sampled points through the ODE from
the base (t = T, blue dots) to the data space (t = 0, red dots); with
ActNorm layers the paths are drawn in the coordinates of the ODEs. The
plotting window covers the data (or the samples) with a margin. A
conditional model needs --context with one row: every panel is for that
context.

Example:
	odeflow plot --model m.odfl --data x.npy --out fig.png`

type plotOptions struct {
	n, grid, paths, size int
	seed                 uint64
}

func runPlot(_ context.Context, e *env, args []string) error {
	fs := newFlags("plot", plotUsage)
	mp := fs.String("model", "", "model file (2-D)")
	dp := fs.String("data", "", "data .npy file to show beside the samples")
	cp := fs.String("context", "", "context .npy file with one row (conditional models)")
	out := fs.String("out", "", "output PNG file")
	var o plotOptions
	fs.IntVar(&o.n, "n", 2000, "samples to draw")
	fs.IntVar(&o.grid, "grid", 100, "heat map resolution (grid points per axis)")
	fs.IntVar(&o.paths, "paths", 60, "trajectories to draw (cnf)")
	fs.IntVar(&o.size, "size", 360, "panel width and height in pixels")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed of the samples")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := required(fs, "model", "out"); err != nil {
		return err
	}
	if o.n < 1 || o.grid < 2 || o.paths < 0 || o.size < 64 || o.size > 4000 || o.grid > 1000 {
		return usagef("need --n ≥ 1, 2 ≤ --grid ≤ 1000, --paths ≥ 0, 64 ≤ --size ≤ 4000")
	}
	if err := checkOutput("out", *out, *mp, *dp, *cp); err != nil {
		return err
	}
	m, err := loadModel(*mp)
	if err != nil {
		return err
	}
	if m.Spec.Dim != 2 {
		return fmt.Errorf("plot draws 2-D models only; %s is %d-D", *mp, m.Spec.Dim)
	}
	var x *mat.Dense
	if *dp != "" {
		if x, err = readMatrix("data", *dp, 2, "the model is 2-D"); err != nil {
			return err
		}
	}
	c1, err := readContext(m, *cp, 0, "")
	if err != nil {
		return err
	}
	if c1 != nil {
		if r, _ := c1.Dims(); r != 1 {
			return fmt.Errorf("--context: %s has %d rows; plot takes one context row", *cp, r)
		}
	}
	return drawModel(*out, m, x, c1, o)
}

// repeatRow returns n copies of the single row of c (nil for nil).
func repeatRow(c *mat.Dense, n int) *mat.Dense {
	if c == nil {
		return nil
	}
	_, k := c.Dims()
	r := mat.NewDense(n, k, nil)
	for i := range n {
		r.SetRow(i, c.RawRowView(0))
	}
	return r
}

// drawModel renders the panels and writes the PNG atomically.
func drawModel(out string, m *model.Model, x, c1 *mat.Dense, o plotOptions) error {
	src := rand.NewPCG(o.seed, saltSample)
	s, err := sample(m, o.n, repeatRow(c1, o.n), 1, src)
	if err != nil {
		return fmt.Errorf("sampling: %w", err)
	}
	ref := s
	if x != nil {
		ref = x
	}
	xmin, xmax, ymin, ymax := window(ref)

	var panels []*plot.Plot
	if x != nil {
		panels = append(panels, scatterPlot("data", x, xmin, xmax, ymin, ymax, color.RGBA{R: 40, G: 90, B: 200, A: 255}))
	}
	panels = append(panels, scatterPlot("samples", s, xmin, xmax, ymin, ymax, color.RGBA{R: 200, G: 60, B: 40, A: 255}))
	hp, err := densityPlot(m, c1, o.grid, xmin, xmax, ymin, ymax)
	if err != nil {
		return err
	}
	panels = append(panels, hp)
	if len(m.Blocks()) > 0 && o.paths > 0 {
		tp, err := trajectoryPlot(m, c1, o.paths, rand.NewPCG(o.seed, saltSample+1), xmin, xmax, ymin, ymax)
		if err != nil {
			return err
		}
		panels = append(panels, tp)
	}

	w := vg.Length(o.size*len(panels)) * vg.Inch / 96
	h := vg.Length(o.size) * vg.Inch / 96
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Millimeter * 2, PadTop: vg.Millimeter,
		PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: vg.Millimeter * 2}
	for _, p := range panels {
		// Plotters widen the axes to their data; keep the window.
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = xmin, xmax, ymin, ymax
	}
	canvases := plot.Align([][]*plot.Plot{panels}, tiles, dc)
	for i, p := range panels {
		p.Draw(canvases[0][i])
	}
	return npy.WriteFileAtomic(out, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
}

// window returns a square-ish plotting window around the central 99% of
// the points of ref, with a 15% margin.
func window(ref *mat.Dense) (xmin, xmax, ymin, ymax float64) {
	n, _ := ref.Dims()
	q := func(j int) (lo, hi float64) {
		v := make([]float64, 0, n)
		for i := range n {
			if a := ref.At(i, j); !math.IsNaN(a) && !math.IsInf(a, 0) {
				v = append(v, a)
			}
		}
		if len(v) == 0 {
			return -1, 1
		}
		slices.Sort(v)
		lo, hi = v[int(0.005*float64(len(v)-1))], v[int(math.Ceil(0.995*float64(len(v)-1)))]
		return lo, hi
	}
	xmin, xmax = q(0)
	ymin, ymax = q(1)
	span := max(xmax-xmin, ymax-ymin, 1e-6)
	cx, cy := (xmin+xmax)/2, (ymin+ymax)/2
	half := 0.5 * 1.3 * span
	return cx - half, cx + half, cy - half, cy + half
}

func newPanel(title string, xmin, xmax, ymin, ymax float64) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = xmin, xmax, ymin, ymax
	p.X.Label.Text, p.Y.Label.Text = "x₁", "x₂"
	return p
}

// clipped returns the points of m (at most max) inside the window.
func clipped(m *mat.Dense, limit int, xmin, xmax, ymin, ymax float64) plotter.XYs {
	n, _ := m.Dims()
	var xy plotter.XYs
	for i := 0; i < n && len(xy) < limit; i++ {
		a, b := m.At(i, 0), m.At(i, 1)
		if a >= xmin && a <= xmax && b >= ymin && b <= ymax {
			xy = append(xy, plotter.XY{X: a, Y: b})
		}
	}
	return xy
}

func scatterPlot(title string, m *mat.Dense, xmin, xmax, ymin, ymax float64, col color.Color) *plot.Plot {
	p := newPanel(title, xmin, xmax, ymin, ymax)
	xy := clipped(m, 5000, xmin, xmax, ymin, ymax)
	if len(xy) > 0 {
		sc, err := plotter.NewScatter(xy)
		if err == nil {
			sc.GlyphStyle.Color = col
			sc.GlyphStyle.Radius = vg.Points(0.8)
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			p.Add(sc)
		}
	}
	return p
}

// grid is a plotter.GridXYZ of densities on a regular grid.
type grid struct {
	n                  int
	xmin, dx, ymin, dy float64
	z                  []float64 // z[r*n+c]
}

func (g *grid) Dims() (c, r int)   { return g.n, g.n }
func (g *grid) Z(c, r int) float64 { return g.z[r*g.n+c] }
func (g *grid) X(c int) float64    { return g.xmin + float64(c)*g.dx }
func (g *grid) Y(r int) float64    { return g.ymin + float64(r)*g.dy }

// densityPlot evaluates exp(log p) on a grid of the window.
func densityPlot(m *model.Model, c1 *mat.Dense, n int, xmin, xmax, ymin, ymax float64) (*plot.Plot, error) {
	g := &grid{n: n, xmin: xmin, ymin: ymin, dx: (xmax - xmin) / float64(n-1), dy: (ymax - ymin) / float64(n-1)}
	pts := mat.NewDense(n*n, 2, nil)
	for r := range n {
		for c := range n {
			pts.Set(r*n+c, 0, g.X(c))
			pts.Set(r*n+c, 1, g.Y(r))
		}
	}
	lp, err := logProb(m, pts, repeatRow(c1, n*n))
	if err != nil {
		return nil, fmt.Errorf("density on the plotting grid: %w", err)
	}
	g.z = make([]float64, n*n)
	zmax := 0.0
	for i, v := range lp {
		g.z[i] = math.Exp(v) // exp(−Inf) = 0
		zmax = max(zmax, g.z[i])
	}
	p := newPanel("density", xmin, xmax, ymin, ymax)
	if zmax > 0 {
		cm := moreland.ExtendedBlackBody()
		cm.SetMin(0)
		cm.SetMax(zmax)
		hm := plotter.NewHeatMap(g, cm.Palette(255))
		hm.Min, hm.Max = 0, zmax
		hm.Rasterized = true
		p.Add(hm)
	}
	return p, nil
}

// trajectoryPlot draws the paths of base draws through the CNF's ODEs,
// from the base (t = T of the last block) to the data (t = 0 of the first).
func trajectoryPlot(m *model.Model, c1 *mat.Dense, n int, src rand.Source, xmin, xmax, ymin, ymax float64) (*plot.Plot, error) {
	const steps = 25
	z := mat.NewDense(n, 2, nil)
	m.Flow.Base().Sample(z, src)
	if m.Flow.Conditional() {
		m.Flow.ConditionalTransform().Given(repeatRow(c1, n)) // binds every block's context
	}
	layers := m.Layers()
	paths := make([]plotter.XYs, n)
	add := func(s *mat.Dense) {
		for i := range n {
			paths[i] = append(paths[i], plotter.XY{X: s.At(i, 0), Y: s.At(i, 1)})
		}
	}
	add(z)
	cur := z
	for k := len(layers) - 1; k >= 0; k-- {
		if b, ok := layers[k].(*cnf.Block); ok {
			T := b.T()
			times := reverseTimes(T, steps)
			states, _, err := b.Trajectory(cur, times, true)
			if err != nil {
				return nil, fmt.Errorf("trajectories: %w", err)
			}
			for _, s := range states[1:] {
				add(s)
			}
			cur = states[len(states)-1]
			continue
		}
		next := mat.NewDense(n, 2, nil)
		if err := layers[k].Inverse(next, nil, cur); err != nil {
			return nil, fmt.Errorf("trajectories: %w", err)
		}
		cur = next
		add(cur)
	}
	p := newPanel("trajectories (base → data)", xmin, xmax, ymin, ymax)
	var starts, ends plotter.XYs
	for _, path := range paths {
		l, err := plotter.NewLine(path)
		if err != nil {
			continue // a path that left the finite numbers
		}
		l.LineStyle.Width = vg.Points(0.6)
		l.LineStyle.Color = color.RGBA{R: 90, G: 90, B: 90, A: 160}
		p.Add(l)
		starts = append(starts, path[0])
		ends = append(ends, path[len(path)-1])
	}
	for _, pts := range []struct {
		xy  plotter.XYs
		col color.Color
	}{{starts, color.RGBA{B: 220, A: 255}}, {ends, color.RGBA{R: 220, A: 255}}} {
		if len(pts.xy) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(pts.xy)
		if err != nil {
			continue
		}
		sc.GlyphStyle.Color = pts.col
		sc.GlyphStyle.Radius = vg.Points(1.5)
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		p.Add(sc)
	}
	return p, nil
}

// reverseTimes returns steps+1 times from T down to 0, evenly spaced. The
// ends are set exactly: T·steps/steps can round one ulp above T, which the
// solver rightly rejects as outside [0, T].
func reverseTimes(T float64, steps int) []float64 {
	times := make([]float64, steps+1)
	for j := range times {
		times[j] = T * float64(steps-j) / float64(steps)
	}
	times[0], times[steps] = T, 0
	return times
}
