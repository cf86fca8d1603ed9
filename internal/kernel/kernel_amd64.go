//go:build amd64 && !purego

package kernel

import "math"

//go:noescape
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

//go:noescape
func xgetbv() (eax, edx uint32)

//go:noescape
func kern6x8(kc int, a *float64, rs, ps int, b *float64, ldb int, c *float64, ldc int, alpha, beta float64)

//go:noescape
func kern8x16(kc int, a *float64, rs, ps int, b *float64, ldb int, c *float64, ldc int, alpha, beta float64)

func micro6x8(kc int, a []float64, rs, ps int, b []float64, ldb int, c []float64, ldc int, alpha, beta float64) {
	kern6x8(kc, &a[0], rs, ps, &b[0], ldb, &c[0], ldc, alpha, beta)
}

func micro8x16(kc int, a []float64, rs, ps int, b []float64, ldb int, c []float64, ldc int, alpha, beta float64) {
	kern8x16(kc, &a[0], rs, ps, &b[0], ldb, &c[0], ldc, alpha, beta)
}

var (
	avx2Impl   = &impl{name: "avx2", id: idAVX2, mr: 6, nr: 8}
	avx512Impl = &impl{name: "avx512", id: idAVX512, mr: 8, nr: 16}
)

// micro runs micro-kernel id on one tile (see impl).
func micro(id, kc int, a []float64, rs, ps int, b []float64, ldb int, c []float64, ldc int, alpha, beta float64) {
	switch id {
	case idAVX512:
		micro8x16(kc, a, rs, ps, b, ldb, c, ldc, alpha, beta)
	case idAVX2:
		micro6x8(kc, a, rs, ps, b, ldb, c, ldc, alpha, beta)
	default:
		microGo(kc, a, rs, ps, b, ldb, c, ldc, alpha, beta)
	}
}

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

//go:noescape
func tanhAVX2(y, d1, d2, h, b *float64, n, mode int, tab *[tanhLen][8]float64)

//go:noescape
func tanh512(y, d1, d2, h, b *float64, n, mode int, tab *[tanhLen][8]float64)

// hasAVX2 reports whether the vector tanh can run (AVX2 and FMA).
var hasAVX2, _ = detect()

// tanhVector runs the vector tanh when the CPU has it and reports whether it
// did: with AVX-512 eight values at a time when the AVX-512 Gemm kernel is
// active, then four at a time, and the last len(y) mod 4 values through a
// 4-value stack buffer.
func tanhVector(y, d1, d2, h, b []float64) bool {
	if !hasAVX2 {
		return false
	}
	n := len(y)
	mode := 0
	if d1 != nil {
		mode = 1
		if d2 != nil {
			mode = 2
		}
	}
	i := 0
	run := func(f func(y, d1, d2, h, b *float64, n, mode int, tab *[tanhLen][8]float64), m int) {
		var p1, p2 *float64
		if mode >= 1 {
			p1 = &d1[i]
		}
		if mode == 2 {
			p2 = &d2[i]
		}
		f(&y[i], p1, p2, &h[i], &b[i], m, mode, tanhTab)
		i += m
	}
	if m := n &^ 7; m > 0 && active.id == idAVX512 {
		run(tanh512, m)
	}
	if m := (n - i) &^ 3; m > 0 {
		run(tanhAVX2, m)
	}
	if i == n {
		return true
	}
	var ty, t1, t2, th, tb [4]float64
	copy(th[:], h[i:])
	copy(tb[:], b[i:])
	tanhAVX2(&ty[0], &t1[0], &t2[0], &th[0], &tb[0], 4, mode, tanhTab)
	copy(y[i:], ty[:])
	if mode >= 1 {
		copy(d1[i:], t1[:])
	}
	if mode == 2 {
		copy(d2[i:], t2[:])
	}
	return true
}

// tanhLen is the number of constants the vector tanh uses.
const tanhLen = 28

// tanhTab holds the vector tanh's constants, each repeated across a vector
// register: the order is fixed by the assembly.
var tanhTab = func() *[tanhLen][8]float64 {
	c := []float64{
		math.Float64frombits(1<<63 - 1), // |·| mask
		0.625,                           // small-argument bound (math.Tanh's)
		20,                              // tanh(20) rounds to 1
		1, 2,
		math.Log2E,
		6.93147180369123816490e-01, // ln2 high part (fdlibm's, 32 trailing zero bits)
		1.90821492927058770002e-10, // ln2 low part
		0x1p52 + 1023,              // adding it puts k + 1023 in the low mantissa bits
		-2,
		// math.Tanh's rational approximation on |x| < 0.625 (Cephes).
		-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3,
		1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3,
	}
	// 1/13!, 1/12!, ..., 1/2!.
	for i := 13; i >= 2; i-- {
		f := 1.0
		for j := 2; j <= i; j++ {
			f *= float64(j)
		}
		c = append(c, 1/f)
	}
	if len(c) != tanhLen {
		panic("kernel: tanh table")
	}
	var t [tanhLen][8]float64
	for i, v := range c {
		for j := range t[i] {
			t[i][j] = v
		}
	}
	return &t
}()
