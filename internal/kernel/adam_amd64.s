//go:build !purego

#include "textflag.h"

// func adam512(x, gr, m, v *float64, n int, c *AdamCoef)
//
// Adam's update (see adam.go) for i < n, a multiple of 8, with AVX-512F.
// The coefficients are broadcast from c in AdamCoef's field order.
TEXT ·adam512(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), DI
	MOVQ gr+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), R11
	SHRQ $3, CX
	JZ adam512done
	VBROADCASTSD 0(R11), Z16  // L2
	VBROADCASTSD 8(R11), Z17  // B1
	VBROADCASTSD 16(R11), Z18 // A1
	VBROADCASTSD 24(R11), Z19 // B2
	VBROADCASTSD 32(R11), Z20 // A2
	VBROADCASTSD 40(R11), Z21 // IVC
	VBROADCASTSD 48(R11), Z22 // Eps
	VBROADCASTSD 56(R11), Z23 // Decay
	VBROADCASTSD 64(R11), Z24 // Step

adam512loop:
	VMOVUPD (DI), Z0
	VMULPD Z0, Z16, Z1
	VADDPD (SI), Z1, Z1       // γ = g + L2·x
	VMULPD (R8), Z17, Z2
	VMULPD Z1, Z18, Z3
	VADDPD Z3, Z2, Z2         // m = B1·m + A1·γ
	VMOVUPD Z2, (R8)
	VMULPD Z1, Z1, Z4
	VMULPD Z4, Z20, Z4
	VMULPD (R9), Z19, Z5
	VADDPD Z4, Z5, Z5         // v = B2·v + A2·γ²
	VMOVUPD Z5, (R9)
	VMULPD Z5, Z21, Z5
	VSQRTPD Z5, Z5
	VADDPD Z22, Z5, Z5        // den = √(v·IVC) + Eps
	VMULPD Z2, Z24, Z6
	VDIVPD Z5, Z6, Z6         // Step·m / den
	VMULPD Z0, Z23, Z7
	VSUBPD Z7, Z0, Z0         // x − Decay·x
	VSUBPD Z6, Z0, Z0
	VMOVUPD Z0, (DI)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ CX
	JNZ adam512loop
	VZEROUPPER

adam512done:
	RET

// func adamAVX(x, gr, m, v *float64, n int, c *[adamLen][4]float64)
//
// Adam's update for i < n, a multiple of 4, with AVX; c holds the
// coefficients in AdamCoef's field order, each repeated 4 times.
TEXT ·adamAVX(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), DI
	MOVQ gr+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), R11
	SHRQ $2, CX
	JZ adamavxdone

adamavxloop:
	VMOVUPD (DI), Y0
	VMULPD 0(R11), Y0, Y1
	VADDPD (SI), Y1, Y1       // γ = g + L2·x
	VMOVUPD (R8), Y2
	VMULPD 32(R11), Y2, Y2
	VMULPD 64(R11), Y1, Y3
	VADDPD Y3, Y2, Y2         // m = B1·m + A1·γ
	VMOVUPD Y2, (R8)
	VMULPD Y1, Y1, Y4
	VMULPD 128(R11), Y4, Y4
	VMOVUPD (R9), Y5
	VMULPD 96(R11), Y5, Y5
	VADDPD Y4, Y5, Y5         // v = B2·v + A2·γ²
	VMOVUPD Y5, (R9)
	VMULPD 160(R11), Y5, Y5
	VSQRTPD Y5, Y5
	VADDPD 192(R11), Y5, Y5   // den = √(v·IVC) + Eps
	VMULPD 256(R11), Y2, Y6
	VDIVPD Y5, Y6, Y6         // Step·m / den
	VMULPD 224(R11), Y0, Y7
	VSUBPD Y7, Y0, Y0         // x − Decay·x
	VSUBPD Y6, Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ adamavxloop
	VZEROUPPER

adamavxdone:
	RET

// func relu512(y, d1, x *float64, n int)
//
// For i < n, a multiple of 8: y[i] = x[i] and d1[i] = 1 where x[i] > 0,
// y[i] = d1[i] = x[i] where x[i] is NaN, y[i] = d1[i] = +0 elsewhere.
TEXT ·relu512(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ d1+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ relu512done
	VPXORQ Z15, Z15, Z15
	MOVQ $0x3FF0000000000000, AX
	VPBROADCASTQ AX, Z14

relu512loop:
	VMOVUPD (SI), Z0
	VCMPPD $0x1e, Z15, Z0, K1 // x > 0 (ordered)
	VCMPPD $3, Z0, Z0, K2     // x is NaN
	KORW K1, K2, K3
	VMOVUPD.Z Z0, K3, Z1
	VMOVUPD.Z Z14, K1, Z2
	VMOVUPD Z0, K2, Z2
	VMOVUPD Z1, (DI)
	VMOVUPD Z2, (R8)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, R8
	DECQ CX
	JNZ relu512loop
	VZEROUPPER

relu512done:
	RET

// func reluAVX(y, d1, x *float64, n int, one *[4]float64)
//
// relu512 for n a multiple of 4, with AVX; one holds 1.0 four times.
TEXT ·reluAVX(SB), NOSPLIT, $0-40
	MOVQ y+0(FP), DI
	MOVQ d1+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	MOVQ one+32(FP), R11
	SHRQ $2, CX
	JZ reluavxdone
	VXORPD Y15, Y15, Y15
	VMOVUPD (R11), Y14

reluavxloop:
	VMOVUPD (SI), Y0
	VCMPPD $0x1e, Y15, Y0, Y1 // x > 0 (ordered)
	VCMPPD $3, Y0, Y0, Y2     // x is NaN
	VORPD Y1, Y2, Y3
	VANDPD Y0, Y3, Y4         // y
	VANDPD Y14, Y1, Y5
	VANDPD Y0, Y2, Y6
	VORPD Y5, Y6, Y5          // d1
	VMOVUPD Y4, (DI)
	VMOVUPD Y5, (R8)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	DECQ CX
	JNZ reluavxloop
	VZEROUPPER

reluavxdone:
	RET

// func mul512(dst, a, b *float64, n int)
//
// dst[i] = a[i]·b[i] for i < n, a multiple of 8, with AVX-512F.
TEXT ·mul512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ mul512done

mul512loop:
	VMOVUPD (SI), Z0
	VMULPD (DX), Z0, Z0
	VMOVUPD Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ mul512loop
	VZEROUPPER

mul512done:
	RET

// func mulAVX(dst, a, b *float64, n int)
//
// mul512 for n a multiple of 4, with AVX.
TEXT ·mulAVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $2, CX
	JZ mulavxdone

mulavxloop:
	VMOVUPD (SI), Y0
	VMULPD (DX), Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ mulavxloop
	VZEROUPPER

mulavxdone:
	RET

// func add512(dst, s *float64, n int)
//
// dst[i] += s[i] for i < n, a multiple of 8, with AVX-512F.
TEXT ·add512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ add512done

add512loop:
	VMOVUPD (DI), Z0
	VADDPD (SI), Z0, Z0
	VMOVUPD Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ add512loop
	VZEROUPPER

add512done:
	RET

// func addAVX(dst, s *float64, n int)
//
// add512 for n a multiple of 4, with AVX.
TEXT ·addAVX(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $2, CX
	JZ addavxdone

addavxloop:
	VMOVUPD (DI), Y0
	VADDPD (SI), Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ addavxloop
	VZEROUPPER

addavxdone:
	RET

// func mulAdd512(dst, a, b *float64, n int)
//
// dst[i] += a[i]·b[i] (two roundings) for i < n, a multiple of 8, AVX-512F.
TEXT ·mulAdd512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ muladd512done

muladd512loop:
	VMOVUPD (SI), Z0
	VMULPD (DX), Z0, Z0
	VADDPD (DI), Z0, Z0
	VMOVUPD Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ muladd512loop
	VZEROUPPER

muladd512done:
	RET

// func mulAddAVX(dst, a, b *float64, n int)
//
// mulAdd512 for n a multiple of 4, with AVX.
TEXT ·mulAddAVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $2, CX
	JZ muladdavxdone

muladdavxloop:
	VMOVUPD (SI), Y0
	VMULPD (DX), Y0, Y0
	VADDPD (DI), Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ muladdavxloop
	VZEROUPPER

muladdavxdone:
	RET

// func sumSq512(x *float64, n int, part *[32]float64)
//
// part[8j+l] = Σ_i x[32i+8j+l]² for i < n/32 (n a multiple of 32), with
// four AVX-512F accumulators.
TEXT ·sumSq512(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ part+16(FP), DI
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3
	SHRQ $5, CX
	JZ sumsq512store

sumsq512loop:
	VMOVUPD (SI), Z4
	VMOVUPD 64(SI), Z5
	VMOVUPD 128(SI), Z6
	VMOVUPD 192(SI), Z7
	VMULPD Z4, Z4, Z4
	VMULPD Z5, Z5, Z5
	VMULPD Z6, Z6, Z6
	VMULPD Z7, Z7, Z7
	VADDPD Z4, Z0, Z0
	VADDPD Z5, Z1, Z1
	VADDPD Z6, Z2, Z2
	VADDPD Z7, Z3, Z3
	ADDQ $256, SI
	DECQ CX
	JNZ sumsq512loop

sumsq512store:
	VMOVUPD Z0, (DI)
	VMOVUPD Z1, 64(DI)
	VMOVUPD Z2, 128(DI)
	VMOVUPD Z3, 192(DI)
	VZEROUPPER
	RET

// func sumSqAVX(x *float64, n int, part *[32]float64)
//
// part[4j+l] = Σ_i x[16i+4j+l]² for i < n/16 (n a multiple of 16), with
// four AVX accumulators; part[16:] is left alone.
TEXT ·sumSqAVX(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ part+16(FP), DI
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	SHRQ $4, CX
	JZ sumsqavxstore

sumsqavxloop:
	VMOVUPD (SI), Y4
	VMOVUPD 32(SI), Y5
	VMOVUPD 64(SI), Y6
	VMOVUPD 96(SI), Y7
	VMULPD Y4, Y4, Y4
	VMULPD Y5, Y5, Y5
	VMULPD Y6, Y6, Y6
	VMULPD Y7, Y7, Y7
	VADDPD Y4, Y0, Y0
	VADDPD Y5, Y1, Y1
	VADDPD Y6, Y2, Y2
	VADDPD Y7, Y3, Y3
	ADDQ $128, SI
	DECQ CX
	JNZ sumsqavxloop

sumsqavxstore:
	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VZEROUPPER
	RET
