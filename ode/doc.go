// Package ode solves initial value problems y' = f(t, y), y(t0) = y0, with
// explicit Runge–Kutta methods: fixed or adaptive steps, dense output,
// output at chosen times, events, and forward or backward integration. It
// knows nothing of flows: the state is a flat []float64, so one solver
// serves a plain ODE, a batch of n samples of dimension d stored row-major,
// or an augmented state [z; log p; regularizers; adjoint].
//
// # Methods as data
//
// A method is a Tableau: its Butcher coefficients (C, A, B), the weights of
// its error estimate (BErr = b − b̂), whether it is FSAL, and the
// coefficients of its continuous extension. The package provides Euler,
// Midpoint, Heun, RK4, RK38 (fixed step only), and the embedded pairs
// HeunEuler 2(1), BogackiShampine 3(2), Fehlberg45 4(5), CashKarp 4(5),
// DormandPrince5 5(4) (Dopri5, the default), Tsit5 5(4) and DOP853 8(5,3).
// The tests check every tableau: row sums equal C, the weights sum to 1
// and the error weights to 0, the order conditions (rooted trees) of the
// solution, the embedded solutions and the dense outputs, and the
// convergence order measured on y' = Ay against the matrix exponential.
//
// # Error control
//
// The local error estimate e of a step from y0 to y1 is scaled componentwise
// and measured by a Norm (RMS by default):
//
//	err = ‖ e_i / (atol_i + rtol_i·max(|y0_i|, |y1_i|)) ‖.
//
// The step is accepted when err ≤ 1. A Controller (I by default, PI
// available) accepts or rejects and proposes the next step,
//
//	h_new = h · clip(0.9 · err^(−1/(q+1)), 0.2, 10),
//
// with q the order of the error estimate (Tableau.ErrOrder). After a
// rejection an accepted step may not grow. DOP853 combines its 5th- and
// 3rd-order estimates as err = e5²/sqrt(e5² + 0.01·e3²). The first step is
// Hairer's heuristic unless Settings.FirstStep is set; the last step lands
// exactly on T1. These are the rules of Hairer's codes and of scipy's
// solve_ivp, so with the default settings and the same tolerances this
// package reproduces scipy's RK45 and DOP853 step sequences.
//
// For adjoint solves, SemiNorm and MaskNorm exclude components (such as
// the parameter gradient) from error control.
//
// # Outputs
//
// Result holds the final state; the states at Settings.SaveAt times,
// computed by each step's interpolant (not by forcing steps onto them);
// with SaveSteps every accepted step's time, state and size, so that a
// Stepper can re-run the steps exactly; with Dense a Dense object that can
// be evaluated anywhere in the solved interval; and the events found.
// Interpolants are Dopri5's (Shampine, order 4), Tsit5's (order 4), DOP853's
// (order 7, three extra evaluations per step that needs it) or, for the
// other methods, the cubic Hermite interpolant of y0, y1, f0, f1.
//
// # Failures
//
// A solve never panics on data: step-size underflow, too many steps, NaN or
// Inf in the state or the derivative, and invalid settings are returned as
// an *Error whose Status names a remedy, and the Result holds the solution
// up to the last accepted step. Panics are for programmer errors only (a
// Stepper used with a state of the wrong length, a Dense evaluated outside
// its interval) and are documented.
//
// # Reuse and allocation
//
// A Solver is allocated once for a state length. Solver.Solve takes a
// destination Result: reusing it (or passing one with large enough slices)
// makes repeated solves allocation-free, and no step ever allocates.
// Stepper exposes single steps — stage inputs, stage derivatives, solution,
// error estimate and interpolant — for code that differentiates through
// solves.
//
// # Conventions
//
// Func writes dy/dt into its first argument and must not modify y. Times
// may decrease (T1 < T0): SaveAt must then be non-increasing, step sizes
// in StepH are negative, and everything else is unchanged.
package ode
