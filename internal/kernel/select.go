package kernel

import "os"

// all is every kernel this build can run on this CPU, fastest first; active
// is the one Gemm uses.
var (
	all    = available()
	active = choose(all, os.Getenv("ODEFLOW_KERNEL"))
)

// choose returns the fastest kernel of l, or the one named by want when l
// has it.
func choose(l []*impl, want string) *impl {
	for _, k := range l {
		if k.name == want {
			return k
		}
	}
	return l[0]
}

// Name returns the name of the micro-kernel Gemm uses: "avx512", "avx2" or
// "go".
func Name() string { return active.name }

// Accelerated reports whether Gemm runs an assembly micro-kernel, rather
// than the portable Go one.
func Accelerated() bool { return active != goImpl }
