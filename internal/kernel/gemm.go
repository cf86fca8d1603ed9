package kernel

import "fmt"

// Blocking parameters of the driver. The packed panel of B lives in a fixed
// array on the stack, so that Gemm allocates nothing and needs no workspace.
const (
	bufLen = 4096 // doubles in the packed-B buffer (32 KiB)
	kcMax  = 256  // longest stretch of the inner dimension per pass
	maxMR  = 8    // largest micro-tile over all kernels
	maxNR  = 16
)

// An untransposed B is read in place, its full panels not packed, when its
// rows are at most directCols wide (a panel row then sits in one or two
// cache lines and the whole of B's panel stride is short) or when C has at
// most directRows tiles of rows to share the cost of packing. Measured on
// the field's shapes (300 and 3000 rows, 64×64 weights, Gᵀ·X with k = 300
// and 3000): in place was never slower, and 2.5× faster for 2×64 outputs.
const (
	directCols = 256
	directRows = 4
)

// A micro-kernel computes the mr×nr tile
//
//	C = alpha·Â·B̂ + beta·C
//
// where Â(r, p) = a[r·rs + p·ps] for r < mr, p < kc, B̂(p, j) = b[p·ldb + j]
// for j < nr (a packed panel, ldb = nr, or B itself) and row r of C starts
// at c[r·ldc]. beta = 0
// (of either sign) means C is only written. The slices are known by the
// caller to be long enough. micro(id, ...) runs kernel id; it is a switch
// rather than a function value so that the stack buffers passed to it do
// not escape.

// impl is one micro-kernel with its tile shape.
type impl struct {
	name   string
	id     int
	mr, nr int
}

const (
	idGo = iota
	idAVX2
	idAVX512
)

// Gemm computes
//
//	C = alpha·op(A)·op(B) + beta·C
//
// for row-major matrices: C is m×n with leading dimension ldc, op(A) is m×k
// (A itself is m×k with leading dimension lda, or k×m when tA is true, so
// that op(A) = Aᵀ), and op(B) is k×n (B is k×n, or n×k when tB is true). When
// beta is zero C is only written, so its old contents (NaN included) are
// ignored; when alpha is zero or k is zero, A and B are not read.
//
// Gemm allocates nothing and is safe for concurrent use on disjoint C. It
// panics if a dimension is negative, a leading dimension is smaller than
// its row width, or a slice is too short for the matrix it holds.
func Gemm(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gemm(active, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func gemm(kn *impl, tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernel: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	checkMat("a", a, ar, ac, lda)
	checkMat("b", b, br, bc, ldb)
	checkMat("c", c, m, n, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	mr, nr := kn.mr, kn.nr

	// kc: the inner-dimension stretch of one pass, chosen so that the packed
	// panels cover all of n when that leaves at least 64 of k, and split
	// evenly over the passes. nc: the columns packed at once.
	nPad := (n + nr - 1) / nr * nr
	kc := min(k, kcMax)
	if nPad*kc > bufLen && bufLen/nPad >= 64 {
		kc = bufLen / nPad
	}
	passes := (k + kc - 1) / kc
	kc = (k + passes - 1) / passes
	nc := max(nr, bufLen/kc/nr*nr)

	direct := !tB && (n <= directCols || m <= directRows*mr)

	// Â(i, p) = a[i·ars + p·aps].
	ars, aps := lda, 1
	if tA {
		ars, aps = 1, lda
	}

	var (
		buf  [bufLen]float64
		tmp  [maxMR * maxNR]float64
		edge [maxMR * kcMax]float64
	)
	for pc := 0; pc < k; pc += kc {
		kcur := min(kc, k-pc)
		bet := beta
		if pc > 0 {
			bet = 1
		}
		for jc := 0; jc < n; jc += nc {
			ncur := min(nc, n-jc)
			if !direct {
				pack(buf[:], nr, tB, b, ldb, pc, kcur, jc, ncur)
			} else if r := ncur % nr; r != 0 {
				// Only the last, partial panel is packed.
				full := ncur - r
				pack(buf[full*kcur:], nr, false, b, ldb, pc, kcur, jc+full, r)
			}
			for ic := 0; ic < m; ic += mr {
				rows := min(mr, m-ic)
				// The tile's A rows start at i0; the first skip rows of
				// the computed tile are not part of this block.
				i0, skip := ic, 0
				ap, rs, ps := a, ars, aps
				switch {
				case rows == mr:
					ap = a[i0*ars+pc*aps:]
				case m >= mr:
					// Shift the last tile up so that it lies inside A,
					// overlapping the previous one.
					i0, skip = m-mr, mr-rows
					ap = a[i0*ars+pc*aps:]
				default:
					// Fewer than mr rows in all: copy them, zero-padded.
					e := edge[:mr*kcur]
					for r := range mr {
						er := e[r*kcur : (r+1)*kcur]
						if r >= m {
							clear(er)
							continue
						}
						for p := range er {
							er[p] = a[r*ars+(pc+p)*aps]
						}
					}
					ap, rs, ps = e, kcur, 1
				}
				for jr := 0; jr < ncur; jr += nr {
					cols := min(nr, ncur-jr)
					bp, bs := buf[jr*kcur:(jr+nr)*kcur], nr
					if direct && cols == nr {
						bp, bs = b[pc*ldb+jc+jr:], ldb
					}
					co := ic*ldc + jc + jr
					if rows == mr && cols == nr {
						micro(kn.id, kcur, ap, rs, ps, bp, bs, c[co:], ldc, alpha, bet)
						continue
					}
					t := tmp[:mr*nr]
					micro(kn.id, kcur, ap, rs, ps, bp, bs, t, nr, 1, 0)
					for r := range rows {
						tr := t[(skip+r)*nr : (skip+r)*nr+cols]
						cr := c[co+r*ldc : co+r*ldc+cols]
						if bet == 0 {
							for j, v := range tr {
								cr[j] = alpha * v
							}
						} else {
							for j, v := range tr {
								cr[j] = alpha*v + bet*cr[j]
							}
						}
					}
				}
			}
		}
	}
}

// packT16 is pack's transposing copy of one full panel of 16 columns: row
// p of the panel gathers element pc+p of rows j0…j0+15 of B. It writes the
// panel in order, reading the 16 rows side by side (16 streams the
// prefetchers follow), which is faster than writing it with stride 16.
func packT16(dst, b []float64, ldb, j0, pc, kc int) {
	row := func(j int) []float64 { o := (j0+j)*ldb + pc; return b[o : o+kc : o+kc] }
	r0, r1, r2, r3 := row(0), row(1), row(2), row(3)
	r4, r5, r6, r7 := row(4), row(5), row(6), row(7)
	r8, r9, r10, r11 := row(8), row(9), row(10), row(11)
	r12, r13, r14, r15 := row(12), row(13), row(14), row(15)
	dst = dst[:16*kc]
	for p := range r0 {
		d := dst[16*p : 16*p+16 : 16*p+16]
		d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
		d[8], d[9], d[10], d[11] = r8[p], r9[p], r10[p], r11[p]
		d[12], d[13], d[14], d[15] = r12[p], r13[p], r14[p], r15[p]
	}
}

// packT8 is packT16 for panels of 8 columns (the avx2 kernel).
func packT8(dst, b []float64, ldb, j0, pc, kc int) {
	row := func(j int) []float64 { o := (j0+j)*ldb + pc; return b[o : o+kc : o+kc] }
	r0, r1, r2, r3 := row(0), row(1), row(2), row(3)
	r4, r5, r6, r7 := row(4), row(5), row(6), row(7)
	dst = dst[:8*kc]
	for p := range r0 {
		d := dst[8*p : 8*p+8 : 8*p+8]
		d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
	}
}

// pack copies op(B)[pc:pc+kc, jc:jc+nc] into buf as consecutive panels of
// nr columns, panel q holding columns jc+q·nr... with element (p, j) at
// buf[q·kc·nr + p·nr + j], zero-padded to nr columns.
func pack(buf []float64, nr int, tB bool, b []float64, ldb, pc, kc, jc, nc int) {
	for q := 0; q*nr < nc; q++ {
		dst := buf[q*kc*nr : (q+1)*kc*nr]
		j0 := jc + q*nr
		w := min(nr, nc-q*nr)
		if !tB {
			for p := range kc {
				d := dst[p*nr : (p+1)*nr]
				o := (pc+p)*ldb + j0
				copy(d, b[o:o+w])
				clear(d[w:])
			}
			continue
		}
		if w == 16 && nr == 16 {
			packT16(dst, b, ldb, j0, pc, kc)
			continue
		}
		if w == 8 && nr == 8 {
			packT8(dst, b, ldb, j0, pc, kc)
			continue
		}
		for j := range w {
			col := b[(j0+j)*ldb+pc : (j0+j)*ldb+pc+kc]
			for p, v := range col {
				dst[p*nr+j] = v
			}
		}
		if w < nr {
			for p := range kc {
				clear(dst[p*nr+w : (p+1)*nr])
			}
		}
	}
}

// scale sets C = beta·C, writing zeros when beta is zero.
func scale(m, n int, beta float64, c []float64, ldc int) {
	for i := range m {
		r := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(r)
		case 1:
		default:
			for j := range r {
				r[j] *= beta
			}
		}
	}
}

// checkMat panics unless s holds a rows×cols row-major matrix with leading
// dimension ld.
func checkMat(name string, s []float64, rows, cols, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("kernel: leading dimension of %s is %d, less than its %d columns", name, ld, cols))
	}
	if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("kernel: %s has length %d, too short for %d×%d with leading dimension %d", name, len(s), rows, cols, ld))
	}
}

// microGo is the portable micro-kernel: a 4×4 tile of scalar accumulators.
func microGo(kc int, a []float64, rs, ps int, b []float64, ldb int, c []float64, ldc int, alpha, beta float64) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float64
	var c20, c21, c22, c23, c30, c31, c32, c33 float64
	a0, a1, a2, a3 := 0, rs, 2*rs, 3*rs
	for p := 0; p < kc; p++ {
		bp := b[p*ldb : p*ldb+4 : p*ldb+4]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		x := a[a0]
		c00 += x * b0
		c01 += x * b1
		c02 += x * b2
		c03 += x * b3
		x = a[a1]
		c10 += x * b0
		c11 += x * b1
		c12 += x * b2
		c13 += x * b3
		x = a[a2]
		c20 += x * b0
		c21 += x * b1
		c22 += x * b2
		c23 += x * b3
		x = a[a3]
		c30 += x * b0
		c31 += x * b1
		c32 += x * b2
		c33 += x * b3
		a0 += ps
		a1 += ps
		a2 += ps
		a3 += ps
	}
	store4(c[0:4:4], c00, c01, c02, c03, alpha, beta)
	store4(c[ldc:ldc+4:ldc+4], c10, c11, c12, c13, alpha, beta)
	store4(c[2*ldc:2*ldc+4:2*ldc+4], c20, c21, c22, c23, alpha, beta)
	store4(c[3*ldc:3*ldc+4:3*ldc+4], c30, c31, c32, c33, alpha, beta)
}

func store4(c []float64, v0, v1, v2, v3, alpha, beta float64) {
	if beta == 0 {
		c[0], c[1], c[2], c[3] = alpha*v0, alpha*v1, alpha*v2, alpha*v3
		return
	}
	c[0] = alpha*v0 + beta*c[0]
	c[1] = alpha*v1 + beta*c[1]
	c[2] = alpha*v2 + beta*c[2]
	c[3] = alpha*v3 + beta*c[3]
}

var goImpl = &impl{name: "go", id: idGo, mr: 4, nr: 4}
