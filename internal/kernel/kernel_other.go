//go:build !amd64 || purego

package kernel

// available lists the kernels this build can run: only the portable one.
func available() []*impl { return []*impl{goImpl} }
