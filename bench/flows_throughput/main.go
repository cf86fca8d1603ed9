// Command flows_throughput times training epochs of Odeflow's RealNVP and
// MAF on the ring of Gaussians, for comparison with bench/torch_flows.py,
// which builds the same models in PyTorch (see that script's docstring for
// the architecture, layer for layer).
//
//	go run ./bench/flows_throughput                    # batch 128 and 256
//	GOMAXPROCS=1 go run ./bench/flows_throughput -batch 128
//
// Models: discrete.NewRealNVP and discrete.NewMAF on R², FlowSettings{Layers:
// 6, Hidden: "128-128", Act: nn.ReLU} (log-scale bound 3, alternating masks
// for RealNVP, the variable order reversed between MAF layers), float64.
// Training: train.Fit with Adam at a constant learning rate 1e-3, no
// clipping, no validation, on 2 000 points of toy.RingGaussians; an epoch
// is a fresh permutation visited in ⌊2000/batch⌋ full batches. The first
// epoch (set-up and first-call allocations) is not counted; the program
// prints the fastest and the median of the following epochs (the fastest
// is the most robust figure on a shared machine: other load only slows an
// epoch down), and the fastest epoch in process CPU time (user + system,
// all threads).
//
// Threads: by default (GOMAXPROCS = the CPUs) the conditioners split
// batches of at least 128 rows across two threads
// (nn.MLP.NewParallelWorkspace); GOMAXPROCS=1 runs everything on one. See
// bench/discrete_results.md §2 for the comparison with PyTorch.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/discrete"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/train"
	"github.com/odeflow/odeflow/train/toy"
)

func main() {
	batches := flag.String("batch", "128,256", "comma-separated batch sizes")
	epochs := flag.Int("epochs", 12, "timed epochs per model and batch size")
	n := flag.Int("n", 2000, "training points")
	models := flag.String("models", "realnvp,maf", "comma-separated models: realnvp, maf")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "flows_throughput:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "flows_throughput:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(*batches, *models, *epochs, *n); err != nil {
		fmt.Fprintln(os.Stderr, "flows_throughput:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(batches, models string, epochs, n int) error {
	x, err := toy.Generate(toy.RingGaussians, n, rand.NewPCG(1, 1))
	if err != nil {
		return err
	}
	fmt.Printf("Odeflow %s, GOMAXPROCS %d, float64, n = %d\n", runtime.Version(), runtime.GOMAXPROCS(0), n)
	fmt.Printf("%-8s %5s %7s %12s %10s %12s %8s\n", "model", "batch", "params", "min s/epoch", "median", "min CPU s", "loss")
	for _, bs := range strings.Split(batches, ",") {
		batch, err := strconv.Atoi(strings.TrimSpace(bs))
		if err != nil || batch < 1 {
			return fmt.Errorf("bad batch size %q", bs)
		}
		for _, name := range strings.Split(models, ",") {
			flow, err := newFlow(strings.TrimSpace(name))
			if err != nil {
				return err
			}
			wall, cpu, loss, err := timeEpochs(flow, x, batch, epochs)
			if err != nil {
				return err
			}
			fmt.Printf("%-8s %5d %7d %12.5f %10.5f %12.5f %8.4f\n", name, batch, flow.Params().Len(),
				slices.Min(wall), median(wall), slices.Min(cpu), loss)
		}
	}
	return nil
}

func newFlow(name string) (*odeflow.Flow, error) {
	s := &discrete.FlowSettings{Layers: 6, Hidden: "128-128", Act: nn.ReLU, Src: rand.NewPCG(1, 2)}
	switch name {
	case "realnvp":
		return discrete.NewRealNVP(2, s)
	case "maf":
		return discrete.NewMAF(2, s)
	}
	return nil, fmt.Errorf("unknown model %q", name)
}

// cpuSeconds returns the CPU time (user + system) the process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// timeEpochs trains for 1+epochs epochs and returns the wall-clock and
// process CPU durations of the last epochs (seconds) and the mean training
// loss of the last one.
func timeEpochs(flow *odeflow.Flow, x *mat.Dense, batch, epochs int) (wall, cpuTimes []float64, loss float64, err error) {
	rows, _ := x.Dims()
	perEpoch := rows / min(batch, rows)
	var (
		marks      []time.Time
		cpu        []float64
		sum, last  float64
		lastMarked int
	)
	s := &train.Settings{
		LR: 1e-3, BatchSize: batch, Epochs: epochs + 1, Src: rand.NewPCG(1, 3),
		Progress: func(p train.Progress) {
			if p.Iteration <= lastMarked {
				return // a repeated report of the same iteration
			}
			sum += p.TrainLoss
			if p.Iteration%perEpoch == 0 {
				marks = append(marks, time.Now())
				cpu = append(cpu, cpuSeconds())
				last, sum, lastMarked = sum/float64(perEpoch), 0, p.Iteration
			}
		},
	}
	if _, err := train.Fit(context.Background(), flow, x, nil, s); err != nil {
		return nil, nil, 0, err
	}
	if len(marks) != epochs+1 {
		return nil, nil, 0, fmt.Errorf("%d epoch marks, want %d", len(marks), epochs+1)
	}
	wall, cpuTimes = make([]float64, epochs), make([]float64, epochs)
	for i := range wall {
		wall[i] = marks[i+1].Sub(marks[i]).Seconds()
		cpuTimes[i] = cpu[i+1] - cpu[i]
	}
	return wall, cpuTimes, last, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
