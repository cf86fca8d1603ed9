// Package adjoint computes gradients through ODE solves.
package adjoint
