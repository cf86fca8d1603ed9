package vectorfield

import (
	"fmt"
	"strings"
)

// Kind says how a layer of an MLP field depends on time. For an input x
// (width in) and output width out, with σ the logistic sigmoid:
//
//	ConcatSquash  y = (W x + b) ⊙ σ(w_g t + b_g) + w_b t   (FFJORD's default)
//	Squash        y = (W x + b) ⊙ σ(w_g t + b_g)
//	Concat        y = W x + w_t t + b                      (W·[t, x] + b)
//	Ignore        y = W x + b
//	Blend         y = (W₀ x + b₀) + ((W₁ x + b₁) − (W₀ x + b₀))·t
//
// W, W₀, W₁ are out×in; b, b₀, b₁, w_g, b_g, w_b and w_t are out-vectors.
// At a fixed t every kind is an affine map y = W_eff(t) x + b_eff(t), which
// is how the field evaluates it.
//
// The zero value is ConcatSquash.
type Kind int

// The layer kinds.
const (
	ConcatSquash Kind = iota
	Squash
	Concat
	Ignore
	Blend
	numKinds
)

var kindNames = [...]string{"concatsquash", "squash", "concat", "ignore", "blend"}

// String returns the name ParseKind accepts.
func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k >= 0 && k < numKinds }

// ParseKind returns the kind named s (case-insensitive; "" is ConcatSquash).
func ParseKind(s string) (Kind, error) {
	k := strings.ToLower(strings.TrimSpace(s))
	if k == "" {
		return ConcatSquash, nil
	}
	for i, n := range kindNames {
		if n == k {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("vectorfield: unknown layer kind %q (want one of %s)", s, strings.Join(kindNames[:], ", "))
}
