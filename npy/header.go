package npy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Header is the parsed header of a .npy file.
type Header struct {
	// Major and Minor are the format version (1.0, 2.0 or 3.0).
	Major, Minor int
	// Descr is the dtype descriptor as written in the file, e.g. "<f8".
	Descr string
	// Fortran reports whether the data are stored in column-major order.
	Fortran bool
	// Shape is the array shape as written in the file.
	Shape []int
}

// dtype is a float dtype that can be read.
type dtype struct {
	size      int  // 4 or 8
	bigEndian bool // '>' byte order
}

// parseDescr classifies a dtype descriptor string. It returns the readable
// float dtype, or an error naming the dtype and what is accepted.
func parseDescr(descr string) (dtype, error) {
	s := descr
	order := byte(0)
	if s != "" && strings.IndexByte("<>|=", s[0]) >= 0 {
		order = s[0]
		s = s[1:]
	}
	if s == "" {
		return dtype{}, newError(ErrFormat, "empty dtype descriptor %q", descr)
	}
	kind := s[0]
	rest := s[1:]
	size := -1
	if n, err := strconv.Atoi(rest); err == nil && n >= 0 {
		size = n
	}
	name := dtypeName(kind, rest, size)
	if kind == 'f' && (size == 4 || size == 8) {
		switch order {
		case '<':
			return dtype{size: size}, nil
		case '>':
			return dtype{size: size, bigEndian: true}, nil
		}
		return dtype{}, newError(ErrFormat, "dtype %q has no explicit byte order ('<' or '>'); NumPy always writes one", descr)
	}
	if name == "" {
		return dtype{}, newError(ErrDtype, "unknown dtype %q: only float32 and float64 arrays can be read", descr)
	}
	return dtype{}, newError(ErrDtype, "unsupported dtype %s (descr %q): only float32 and float64 arrays can be read; convert with x.astype(np.float64)", name, descr)
}

// dtypeName names a NumPy dtype for error messages; "" if the kind is unknown.
func dtypeName(kind byte, rest string, size int) string {
	bits := func(prefix string) string {
		if size <= 0 {
			return prefix
		}
		return prefix + strconv.Itoa(8*size)
	}
	switch kind {
	case 'b', '?':
		return "bool"
	case 'i':
		return bits("int")
	case 'u':
		return bits("uint")
	case 'f':
		if size == 16 || size == 12 {
			return bits("float") + " (long double)"
		}
		return bits("float")
	case 'c':
		return bits("complex")
	case 'O':
		return "object (pickled Python objects)"
	case 'S', 'a':
		return "bytes (S" + rest + ")"
	case 'U':
		return "str (U" + rest + ")"
	case 'V':
		return "void/raw bytes (V" + rest + ")"
	case 'M':
		return "datetime64" + strings.TrimPrefix(rest, "8")
	case 'm':
		return "timedelta64" + strings.TrimPrefix(rest, "8")
	}
	return ""
}

// pyValue is a parsed Python literal of the subset used in .npy headers.
type pyValue struct {
	kind  pyKind
	str   string
	num   int64
	big   bool // an integer too large for int64
	truth bool
	items []pyValue // tuple or list
	keys  []string  // dict keys, parallel to items
}

type pyKind int

const (
	pyString pyKind = iota + 1
	pyInt
	pyBool
	pyNone
	pyTuple
	pyList
	pyDict
)

func (k pyKind) String() string {
	switch k {
	case pyString:
		return "a string"
	case pyInt:
		return "an integer"
	case pyBool:
		return "a boolean"
	case pyNone:
		return "None"
	case pyTuple:
		return "a tuple"
	case pyList:
		return "a list"
	case pyDict:
		return "a dict"
	}
	return "unknown"
}

// maxDepth bounds the nesting of header literals.
const maxDepth = 32

// pyParser parses the Python literal subset that NumPy writes in headers:
// dicts, tuples, lists, quoted strings, non-negative integers (with an
// optional Python 2 "L" suffix), True, False and None.
type pyParser struct {
	s   string
	pos int
}

func (p *pyParser) errorf(format string, args ...any) error {
	return newError(ErrFormat, "malformed header at byte %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *pyParser) skipSpace() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (p *pyParser) peek() byte {
	p.skipSpace()
	if p.pos >= len(p.s) {
		return 0
	}
	return p.s[p.pos]
}

func (p *pyParser) value(depth int) (pyValue, error) {
	if depth > maxDepth {
		return pyValue{}, p.errorf("nesting deeper than %d", maxDepth)
	}
	switch c := p.peek(); {
	case c == 0:
		return pyValue{}, p.errorf("unexpected end of header")
	case c == '\'' || c == '"':
		s, err := p.str()
		return pyValue{kind: pyString, str: s}, err
	case c >= '0' && c <= '9':
		return p.integer()
	case c == '(' || c == '[':
		return p.sequence(depth)
	case c == '{':
		return p.dict(depth)
	default:
		for _, w := range []struct {
			word string
			v    pyValue
		}{
			{"True", pyValue{kind: pyBool, truth: true}},
			{"False", pyValue{kind: pyBool}},
			{"None", pyValue{kind: pyNone}},
		} {
			if strings.HasPrefix(p.s[p.pos:], w.word) {
				p.pos += len(w.word)
				return w.v, nil
			}
		}
		return pyValue{}, p.errorf("unexpected character %q", c)
	}
}

func (p *pyParser) str() (string, error) {
	q := p.s[p.pos]
	p.pos++
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		p.pos++
		switch c {
		case q:
			return b.String(), nil
		case '\\':
			if p.pos >= len(p.s) {
				return "", p.errorf("unterminated string")
			}
			b.WriteByte(p.s[p.pos])
			p.pos++
		case '\n':
			return "", p.errorf("newline inside a string")
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *pyParser) integer() (pyValue, error) {
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		p.pos++
	}
	digits := p.s[start:p.pos]
	if p.pos < len(p.s) && (p.s[p.pos] == 'L' || p.s[p.pos] == 'l') {
		p.pos++ // Python 2 long suffix, written by old NumPy versions.
	}
	if len(digits) > 1 && digits[0] == '0' {
		return pyValue{}, p.errorf("integer %s has a leading zero", digits)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return pyValue{kind: pyInt, big: true, num: math.MaxInt64}, nil
	}
	return pyValue{kind: pyInt, num: n}, nil
}

// sequence parses a tuple or a list. A parenthesised single value without
// a trailing comma is that value, as in Python.
func (p *pyParser) sequence(depth int) (pyValue, error) {
	open := p.s[p.pos]
	p.pos++
	closer, kind := byte(')'), pyTuple
	if open == '[' {
		closer, kind = ']', pyList
	}
	v := pyValue{kind: kind}
	commas := 0
	for {
		if p.peek() == closer {
			p.pos++
			break
		}
		if len(v.items) > commas {
			return pyValue{}, p.errorf("expected ',' or %q", closer)
		}
		item, err := p.value(depth + 1)
		if err != nil {
			return pyValue{}, err
		}
		v.items = append(v.items, item)
		switch p.peek() {
		case ',':
			p.pos++
			commas++
		case closer:
		default:
			return pyValue{}, p.errorf("expected ',' or %q", closer)
		}
	}
	if kind == pyTuple && len(v.items) == 1 && commas == 0 {
		return v.items[0], nil
	}
	return v, nil
}

func (p *pyParser) dict(depth int) (pyValue, error) {
	p.pos++ // '{'
	v := pyValue{kind: pyDict}
	for {
		c := p.peek()
		if c == '}' {
			p.pos++
			return v, nil
		}
		if len(v.items) > 0 {
			if c != ',' {
				return pyValue{}, p.errorf("expected ',' or '}'")
			}
			p.pos++
			if p.peek() == '}' {
				p.pos++
				return v, nil
			}
		}
		if c := p.peek(); c != '\'' && c != '"' {
			return pyValue{}, p.errorf("dict key is not a string")
		}
		key, err := p.str()
		if err != nil {
			return pyValue{}, err
		}
		if p.peek() != ':' {
			return pyValue{}, p.errorf("expected ':' after key %q", key)
		}
		p.pos++
		item, err := p.value(depth + 1)
		if err != nil {
			return pyValue{}, err
		}
		for _, k := range v.keys {
			if k == key {
				return pyValue{}, p.errorf("duplicate key %q", key)
			}
		}
		v.keys = append(v.keys, key)
		v.items = append(v.items, item)
	}
}

// parseHeaderDict parses the header text (the part after the length
// field) into h. It accepts exactly the keys descr, fortran_order and shape,
// as numpy.load does, and any trailing white space.
func parseHeaderDict(text string, h *Header) error {
	p := &pyParser{s: text}
	if p.peek() != '{' {
		return p.errorf("header is not a Python dict literal")
	}
	d, err := p.value(0)
	if err != nil {
		return err
	}
	if p.peek() != 0 {
		return p.errorf("unexpected text after the header dict")
	}
	var seen [3]bool
	for i, key := range d.keys {
		v := d.items[i]
		switch key {
		case "descr":
			seen[0] = true
			switch v.kind {
			case pyString:
				h.Descr = v.str
			case pyList:
				return newError(ErrDtype, "unsupported structured dtype (record array): only plain float32 and float64 arrays can be read")
			default:
				return newError(ErrFormat, "malformed header: 'descr' is %v, want a string", v.kind)
			}
		case "fortran_order":
			seen[1] = true
			if v.kind != pyBool {
				return newError(ErrFormat, "malformed header: 'fortran_order' is %v, want True or False", v.kind)
			}
			h.Fortran = v.truth
		case "shape":
			seen[2] = true
			if v.kind != pyTuple {
				return newError(ErrFormat, "malformed header: 'shape' is %v, want a tuple", v.kind)
			}
			h.Shape = make([]int, len(v.items))
			for j, it := range v.items {
				if it.kind != pyInt {
					return newError(ErrFormat, "malformed header: shape element %d is %v, want an integer", j, it.kind)
				}
				if it.big || it.num > math.MaxInt {
					return newError(ErrFormat, "malformed header: shape element %d is too large", j)
				}
				h.Shape[j] = int(it.num)
			}
		default:
			return newError(ErrFormat, "malformed header: unexpected key %q", key)
		}
	}
	for i, name := range []string{"descr", "fortran_order", "shape"} {
		if !seen[i] {
			return newError(ErrFormat, "malformed header: missing key %q", name)
		}
	}
	return nil
}

// shapeString formats a shape as Python does: (3,) for one dimension.
func shapeString(shape []int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, n := range shape {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(n))
	}
	if len(shape) == 1 {
		b.WriteByte(',')
	}
	b.WriteByte(')')
	return b.String()
}
