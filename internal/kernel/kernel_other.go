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

// adamVector reports that there is no vector Adam in this build.
func adamVector(_, _, _, _ []float64, _ *AdamCoef) int { return 0 }

// reluVector reports that there is no vector ReLU in this build.
func reluVector(_, _, _ []float64) int { return 0 }

// mulVector reports that there is no vector Mul in this build.
func mulVector(_, _, _ []float64) int { return 0 }

// addVector reports that there is no vector Add in this build.
func addVector(_, _ []float64) int { return 0 }

// mulAddVector reports that there is no vector MulAdd in this build.
func mulAddVector(_, _, _ []float64) int { return 0 }

// sumSqVector reports that there is no vector SumSq in this build.
func sumSqVector(_ []float64, _ *[32]float64) int { return 0 }
