// Command odeflow trains and uses Odeflow's normalizing flows, continuous
// (FFJORD) and discrete, on NumPy .npy files, for users who never write Go.
//
// Usage:
//
//	odeflow <command> [flags]
//
// The commands, each with --help:
//
//	data      write a built-in 2-D toy data set to a .npy file
//	train     train a flow on a .npy file and write a model file
//	logprob   log-density of every row of a .npy file
//	sample    draw samples from a model
//	encode    map data to the base space (forward transform)
//	decode    map base points to the data space (inverse transform)
//	plot      picture of a 2-D model: data, samples, density, trajectories
//	info      describe a model file
//	demo      train a small CNF on a toy set; write samples and a picture
//
// A session:
//
//	odeflow data --name 8gaussians --n 10000 --seed 1 --out x.npy
//	odeflow train --model cnf --data x.npy --out m.odfl --iterations 2000
//	odeflow info --model m.odfl
//	odeflow logprob --model m.odfl --in x.npy --out lp.npy
//	odeflow sample --model m.odfl --n 5000 --seed 2 --out s.npy
//	odeflow encode --model m.odfl --in x.npy --out z.npy
//	odeflow decode --model m.odfl --in z.npy --out x2.npy
//	odeflow plot --model m.odfl --data x.npy --out fig.png
//	odeflow demo --dir odeflow-demo
//
// # Models
//
// train --model KIND takes one of cnf, nice, realnvp, maf, iaf, nsf (with
// --autoregressive for the autoregressive spline flow), glow, bnaf and
// planar; the hyper-parameters are flags (--hidden, --layers, --blocks,
// --solver, --rtol, --divergence, --gradient, --kinetic, ...) whose
// meanings and defaults are those of package model's Spec. A flag that
// does not apply to the kind is an error. --context C.npy makes the flow
// conditional, p(x | c): logprob, sample, encode, decode and plot then
// take a context file too. --base-components K (every kind) gives the flow
// a trainable mixture of K Gaussians as its base instead of the standard
// normal, for data in separate clusters.
//
// Settings come from, in increasing precedence: the defaults, the model
// file of --resume, the --config JSON file (the json names of the flags,
// e.g. {"kind": "cnf", "hidden": "64-64-64", "batch_size": 512}), and the
// flags given on the command line.
//
// Training holds out --valid-frac (default 0.1) of the rows, or uses
// --valid V.npy, evaluates the validation NLL once per epoch and writes
// the parameters with the best validation NLL. Progress lines (iteration,
// loss, validation loss, NFE, ETA) go to stderr when it is a terminal or
// with --verbose. Ctrl-C (SIGINT) or SIGTERM stops training cleanly: the
// best model so far is written and the exit status is 130. Every model
// file written by train holds a training checkpoint (section
// "train/checkpoint"), so 'odeflow train --resume m.odfl --data x.npy
// --iterations N' continues a run bit for bit as if it had not stopped.
//
// sample with a context file of m rows draws --n samples per context row
// (default 1), m·n rows in all, the samples of context row i at rows i·n
// to i·n+n−1; without a context it draws --n samples (default 1000).
//
// # Files
//
// Input arrays are .npy files of float32 or float64, 1-D (one column) or
// 2-D (one sample per row), in C or Fortran order; outputs are float64
// C-order .npy files that numpy.load reads (logprob writes a 1-D array).
// Model files (.odfl by convention) are package modelfile's versioned
// format holding package model's Spec. Every write is atomic (a temporary
// file renamed over the destination), and a command refuses to write over
// one of its own inputs.
//
// Bad input never panics and never leaves a file behind: a wrong dtype, the
// wrong number of columns for the model, rows holding NaN or Inf (listed by
// 0-based index), empty arrays, missing files, a context file whose row
// count differs from the data's, or a model file that is corrupt,
// truncated or from a newer odeflow give one line on stderr,
//
//	odeflow <command>: <what is wrong>
//
// # Exit status
//
//	0    success
//	1    a runtime or data error (bad or missing file, failed solve, ...)
//	2    a usage error (unknown command or flag, missing or conflicting flags,
//	     invalid hyper-parameters, an output that would overwrite an input)
//	130  training interrupted by SIGINT or SIGTERM; the best model so far
//	     was written and can be resumed
package main
