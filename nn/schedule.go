package nn

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate for each optimizer step, counted from 0
// (pass Optimizer.Steps() before stepping).
type Schedule interface {
	LR(step int) float64
}

// Constant is a fixed learning rate.
type Constant float64

// LR returns c.
func (c Constant) LR(int) float64 { return float64(c) }

// StepDecay multiplies the rate by Gamma every Every steps:
//
//	lr(s) = Base · Gamma^⌊s/Every⌋
type StepDecay struct {
	Base  float64
	Every int
	Gamma float64
}

// LR returns the rate at step s. It panics if Every < 1.
func (d StepDecay) LR(s int) float64 {
	if d.Every < 1 {
		panic(fmt.Sprintf("nn: StepDecay.Every = %d, want ≥ 1", d.Every))
	}
	return d.Base * math.Pow(d.Gamma, float64(max(s, 0)/d.Every))
}

// Cosine anneals from Base to Floor over Steps steps along half a cosine
// (Loshchilov & Hutter 2017, SGDR, without restarts) and stays at Floor
// after:
//
//	lr(s) = Floor + (Base − Floor)·(1 + cos(π·min(s, Steps)/Steps))/2
type Cosine struct {
	Base, Floor float64
	Steps       int
}

// LR returns the rate at step s. It panics if Steps < 1.
func (c Cosine) LR(s int) float64 {
	if c.Steps < 1 {
		panic(fmt.Sprintf("nn: Cosine.Steps = %d, want ≥ 1", c.Steps))
	}
	s = min(max(s, 0), c.Steps)
	return c.Floor + (c.Base-c.Floor)*(1+math.Cos(math.Pi*float64(s)/float64(c.Steps)))/2
}

// Warmup ramps the rate up linearly over the first Steps steps to Then's
// initial rate, then follows Then shifted by Steps:
//
//	lr(s) = Then.LR(0)·(s+1)/Steps   for s < Steps
//	lr(s) = Then.LR(s − Steps)       for s ≥ Steps
//
// so the first step already moves (at 1/Steps of the rate) and the last
// warm-up step reaches the full rate. Steps = 0 means no warm-up.
type Warmup struct {
	Steps int
	Then  Schedule
}

// LR returns the rate at step s. It panics if Steps < 0 or Then is nil.
func (w Warmup) LR(s int) float64 {
	if w.Steps < 0 || w.Then == nil {
		panic("nn: Warmup needs Steps ≥ 0 and a Then schedule")
	}
	if s < w.Steps {
		return w.Then.LR(0) * float64(max(s, 0)+1) / float64(w.Steps)
	}
	return w.Then.LR(s - w.Steps)
}
