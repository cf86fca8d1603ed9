//go:build !amd64 || purego

package kernel

// available lists the kernels this build can run: only the portable one.
func available() []*impl { return []*impl{goImpl} }

// micro runs the portable micro-kernel on one tile (see impl).
func micro(_, kc int, a []float64, rs, ps int, b []float64, ldb int, c []float64, ldc int, alpha, beta float64) {
	microGo(kc, a, rs, ps, b, ldb, c, ldc, alpha, beta)
}

// tanhVector reports that there is no vector tanh in this build.
func tanhVector(_, _, _, _, _ []float64) bool { return false }
