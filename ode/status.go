package ode

import (
	"errors"
	"fmt"
)

// Status is the outcome of a solve.
type Status int

const (
	// Success: the solve reached T1.
	Success Status = iota
	// EventStop: a terminal event stopped the solve before T1. Not an error.
	EventStop
	// MaxStepsReached: Settings.MaxSteps step attempts were made.
	MaxStepsReached
	// StepSizeUnderflow: the controller asked for a step smaller than the
	// minimum (Settings.MinStep, or 10 ulp of t).
	StepSizeUnderflow
	// NonFinite: NaN or Inf in the state or the derivative.
	NonFinite
	// InvalidSettings: the problem or the settings are inconsistent.
	InvalidSettings
)

var statusText = [...]string{
	Success:           "success",
	EventStop:         "stopped by a terminal event",
	MaxStepsReached:   "maximum number of steps reached: increase Settings.MaxSteps, loosen RTol/ATol, or check whether the problem is stiff (an explicit method then needs very many steps)",
	StepSizeUnderflow: "step size underflow: the solution may be singular or the problem stiff near this time; loosen RTol/ATol, lower Settings.MinStep, or check the vector field",
	NonFinite:         "NaN or Inf in the state or its derivative: check the vector field for overflow or division by zero at this time, or limit the step with Settings.MaxStep",
	InvalidSettings:   "invalid problem or settings",
}

var statusErr = [...]error{
	MaxStepsReached:   errors.New("ode: " + statusText[MaxStepsReached]),
	StepSizeUnderflow: errors.New("ode: " + statusText[StepSizeUnderflow]),
	NonFinite:         errors.New("ode: " + statusText[NonFinite]),
	InvalidSettings:   errors.New("ode: " + statusText[InvalidSettings]),
}

// String describes the status and, for failures, names the remedy.
func (s Status) String() string {
	if s < 0 || int(s) >= len(statusText) {
		return fmt.Sprintf("Status(%d)", int(s))
	}
	return statusText[s]
}

// Err returns nil for Success and EventStop, and otherwise a sentinel error
// for the status, which the *Error returned by a solve wraps:
// errors.Is(err, MaxStepsReached.Err()) reports a max-steps failure.
func (s Status) Err() error {
	if s == Success || s == EventStop || s < 0 || int(s) >= len(statusErr) {
		return nil
	}
	return statusErr[s]
}

// Error is the error returned by a failed solve. It says where the solve
// stopped and what to try; the Result returned with it holds the solution up
// to T.
type Error struct {
	Status Status
	// T is the time reached (the last accepted state) and H the step size
	// being attempted when the solve stopped (0 if none).
	T, H float64
	// Detail describes the failure in words.
	Detail string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Status == InvalidSettings {
		return "ode: invalid settings: " + e.Detail
	}
	msg := fmt.Sprintf("ode: stopped at t=%.17g (step h=%.6g): %s", e.T, e.H, e.Status)
	if e.Detail != "" {
		msg += " [" + e.Detail + "]"
	}
	return msg
}

// Unwrap returns e.Status.Err().
func (e *Error) Unwrap() error { return e.Status.Err() }
