//go:build amd64 && !purego

package kernel

//go:noescape
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

//go:noescape
func xgetbv() (eax, edx uint32)

//go:noescape
func kern6x8(kc int, a *float64, rs, ps int, b, c *float64, ldc int, alpha, beta float64)

//go:noescape
func kern8x16(kc int, a *float64, rs, ps int, b, c *float64, ldc int, alpha, beta float64)

func micro6x8(kc int, a []float64, rs, ps int, b, c []float64, ldc int, alpha, beta float64) {
	kern6x8(kc, &a[0], rs, ps, &b[0], &c[0], ldc, alpha, beta)
}

func micro8x16(kc int, a []float64, rs, ps int, b, c []float64, ldc int, alpha, beta float64) {
	kern8x16(kc, &a[0], rs, ps, &b[0], &c[0], ldc, alpha, beta)
}

var (
	avx2Impl   = &impl{name: "avx2", mr: 6, nr: 8, kern: micro6x8}
	avx512Impl = &impl{name: "avx512", mr: 8, nr: 16, kern: micro8x16}
)

// detect reports which vector extensions the CPU and the operating system
// support: AVX2 with FMA (YMM state enabled in XCR0), and AVX-512F on top
// (opmask and ZMM state enabled too).
func detect() (avx2, avx512 bool) {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false, false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false, false
	}
	xcr0, _ := xgetbv()
	const (
		xmmYMM  = 1<<1 | 1<<2
		zmmMask = 1<<5 | 1<<6 | 1<<7
	)
	if xcr0&xmmYMM != xmmYMM {
		return false, false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	const (
		avx2Bit    = 1 << 5
		avx512fBit = 1 << 16
	)
	avx2 = ebx7&avx2Bit != 0
	avx512 = avx2 && ebx7&avx512fBit != 0 && xcr0&zmmMask == zmmMask
	return avx2, avx512
}

// available lists the kernels this CPU can run, fastest first.
func available() []*impl {
	avx2, avx512 := detect()
	var l []*impl
	if avx512 {
		l = append(l, avx512Impl)
	}
	if avx2 {
		l = append(l, avx2Impl)
	}
	return append(l, goImpl)
}
