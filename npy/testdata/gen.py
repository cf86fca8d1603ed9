"""Generate the .npy fixtures of package npy with NumPy.

Run from this directory:  /usr/bin/python3 gen.py
The Go tests rebuild the same values (see fixtures_test.go) and compare.
"""
import numpy as np
import numpy.lib.format as fmt

# x[i, j] = (2*i + j - 2.5) / 3, a 3x2 float64 matrix; v[k] = (k - 2.5) / 3.
x = (np.arange(6, dtype=np.float64).reshape(3, 2) - 2.5) / 3
v = (np.arange(5, dtype=np.float64) - 2.5) / 3

def save(name, a, version=None):
    with open(name, "wb") as f:
        if version is None:
            np.save(f, a, allow_pickle=(a.dtype == object))
        else:
            fmt.write_array(f, a, version=version)

# Accepted kinds.
save("f8_c.npy", x)
save("f8_f.npy", np.asfortranarray(x))
save("f4_c.npy", x.astype("<f4"))
save("f4_f.npy", np.asfortranarray(x.astype("<f4")))
save("f8_be.npy", x.astype(">f8"))
save("f4_be_f.npy", np.asfortranarray(x.astype(">f4")))
save("f8_1d.npy", v)
save("f4_be_1d.npy", v.astype(">f4"))
save("f8_v2.npy", x, version=(2, 0))
save("f8_v3.npy", x, version=(3, 0))

# Exact bits: signed zero, a NaN with a payload, subnormal, max, infinities.
bits = np.array([
    [0x3FF8000000000000, 0x8000000000000000],  # 1.5, -0
    [0x7FF00000DEADBEEF, 0x4000000000000000],  # NaN payload, 2
    [0x0000000000000001, 0x7FEFFFFFFFFFFFFF],  # 5e-324, max
    [0xFFF0000000000000, 0x0000000000000000],  # -Inf, +0
], dtype=np.uint64)
save("special.npy", bits.view(np.float64))

# Rows 1, 4, 5 and 7..14 hold NaN or Inf (11 rows).
nan = np.arange(40, dtype=np.float64).reshape(20, 2)
for i, val in [(1, np.nan), (4, np.inf), (5, -np.inf)] + [(i, np.nan) for i in range(7, 15)]:
    nan[i, i % 2] = val
save("nan_rows.npy", nan)

# Rejected kinds.
save("i8.npy", np.arange(4, dtype="<i8").reshape(2, 2))
save("bool.npy", np.array([[True, False]]))
save("c16.npy", np.array([[1 + 2j, 3]], dtype=np.complex128))
save("obj.npy", np.array([[1, "a"]], dtype=object))
save("u3.npy", np.array([["abc", "de"]]))
save("s3.npy", np.array([[b"abc", b"de"]]))
save("f2.npy", x.astype(np.float16))
save("m8.npy", np.array(["2024-01-01"], dtype="M8[D]"))
save("record.npy", np.zeros(2, dtype=[("a", "<f8"), ("b", "<f8")]))
save("f8_3d.npy", np.zeros((2, 2, 2)))
save("f8_0d.npy", np.float64(1.5))
save("empty_rows.npy", np.zeros((0, 3)))
save("empty_cols.npy", np.zeros((3, 0)))
save("empty_1d.npy", np.zeros(0))
np.savez("x.npz", x=x)
