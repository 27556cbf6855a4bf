package torchfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// The values the unpickler builds. Python's None is nil; bool, int64,
// float64 and string stand for themselves; the rest are the types below.
// Mutable containers are pointers, so that the memo shares them as Python
// does; tuples are immutable and may be copied.
type (
	// pyTuple is a Python tuple.
	pyTuple []any
	// pyBytes is a Python bytes object (a string would be str).
	pyBytes []byte
	// pyList is a Python list.
	pyList struct{ items []any }
	// pySet is a Python set or frozenset, in insertion order.
	pySet struct{ items []any }
	// pyDict is a Python dict or one of the dict-like types a checkpoint
	// carries (OrderedDict, Lightning's AttributeDict, argparse.Namespace,
	// whose attributes become its items).
	pyDict struct {
		typeName string
		keys     []any
		vals     []any
		// index finds the position of a hashable key (string, int64,
		// float64, bool, nil) so that setting it again replaces the value,
		// as in Python. Keys of other types are only appended.
		index map[any]int
	}
)

// newDict makes an empty dict of the named Python type.
func newDict(typeName string) *pyDict {
	return &pyDict{typeName: typeName, index: map[any]int{}}
}

// set sets d[k] = v.
func (d *pyDict) set(k, v any) {
	switch k.(type) {
	case string, int64, float64, bool, nil:
		if i, ok := d.index[k]; ok {
			d.vals[i] = v
			return
		}
		d.index[k] = len(d.keys)
	}
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
}

// get returns d[k] for a string key.
func (d *pyDict) get(k string) (any, bool) {
	i, ok := d.index[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// pickle opcodes, as CPython's pickle.py names them.
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opFloat          = 'F'
	opInt            = 'I'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opLong           = 'L'
	opBinInt2        = 'M'
	opNone           = 'N'
	opPersID         = 'P'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opString         = 'S'
	opBinString      = 'T'
	opShortBinString = 'U'
	opUnicode        = 'V'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opGet            = 'g'
	opBinGet         = 'h'
	opInst           = 'i'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opObj            = 'o'
	opPut            = 'p'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinFloat       = 'G'

	opProto    = 0x80
	opNewObj   = 0x81
	opExt1     = 0x82
	opExt2     = 0x83
	opExt4     = 0x84
	opTuple1   = 0x85
	opTuple2   = 0x86
	opTuple3   = 0x87
	opNewTrue  = 0x88
	opNewFalse = 0x89
	opLong1    = 0x8a
	opLong4    = 0x8b

	opBinBytes      = 'B'
	opShortBinBytes = 'C'

	opShortBinUnicode = 0x8c
	opBinUnicode8     = 0x8d
	opBinBytes8       = 0x8e
	opEmptySet        = 0x8f
	opAddItems        = 0x90
	opFrozenSet       = 0x91
	opNewObjEx        = 0x92
	opStackGlobal     = 0x93
	opMemoize         = 0x94
	opFrame           = 0x95

	opByteArray8     = 0x96
	opNextBuffer     = 0x97
	opReadOnlyBuffer = 0x98
)

// maxLongBytes bounds the two's-complement bytes of one LONG4 integer: a
// checkpoint holds nothing near that size, and converting a huge integer
// to text would take time quadratic in its length.
const maxLongBytes = 1024

// unpickler is a pickle virtual machine restricted to building data: it
// knows no classes, imports nothing and calls only the few constructors of
// globals.go, each of which builds a value of this file. Every opcode pushes
// at most one value, and every length read from the data is checked against
// the bytes that remain before anything is allocated for it, so memory is
// bounded by a small multiple of len(data).
type unpickler struct {
	// where names the pickle in errors ("model.pt: data.pkl").
	where string
	data  []byte
	pos   int
	stack []any
	marks []int
	memo  map[uint64]any
	// persistentLoad resolves a BINPERSID identifier (torch's storages).
	persistentLoad func(pid any) (any, error)
}

// unpickle runs the pickle that starts at data[0] up to its STOP and
// returns the value and the number of bytes it used.
func unpickle(where string, data []byte, persistentLoad func(any) (any, error)) (any, int, error) {
	u := &unpickler{where: where, data: data, memo: map[uint64]any{}, persistentLoad: persistentLoad}
	v, err := u.run()
	if err != nil {
		return nil, u.pos, err
	}
	return v, u.pos, nil
}

// errorf makes a format error that names the pickle and the byte offset of
// the opcode being run.
func (u *unpickler) errorf(at int, format string, args ...any) error {
	return &FormatError{Name: u.where, Msg: fmt.Sprintf("byte %d: ", at) + fmt.Sprintf(format, args...)}
}

// eofErrorf is errorf for data that ends too early: a reader that holds
// only a prefix of the file reads more and tries again.
func (u *unpickler) eofErrorf(at int, format string, args ...any) error {
	err := u.errorf(at, format, args...).(*FormatError)
	err.eof = true
	return err
}

func (u *unpickler) need(at, n int) error {
	if n < 0 || n > len(u.data)-u.pos {
		return u.eofErrorf(at, "the pickle ends %d bytes into a %d-byte field (truncated file?)", len(u.data)-u.pos, max(n, 0))
	}
	return nil
}

func (u *unpickler) read(at, n int) ([]byte, error) {
	if err := u.need(at, n); err != nil {
		return nil, err
	}
	b := u.data[u.pos : u.pos+n : u.pos+n]
	u.pos += n
	return b, nil
}

// readLen reads a little-endian length of size bytes (1, 4 or 8) and the
// field of that length that follows it.
func (u *unpickler) readLen(at, size int) ([]byte, error) {
	b, err := u.read(at, size)
	if err != nil {
		return nil, err
	}
	var n uint64
	switch size {
	case 1:
		n = uint64(b[0])
	case 4:
		n = uint64(binary.LittleEndian.Uint32(b))
	default:
		n = binary.LittleEndian.Uint64(b)
	}
	if n > uint64(len(u.data)-u.pos) {
		return nil, u.eofErrorf(at, "a field declares %d bytes but only %d remain (truncated or corrupt file)", n, len(u.data)-u.pos)
	}
	return u.read(at, int(n))
}

// readLine reads up to a newline, for the text opcodes of protocols 0
// and 1.
func (u *unpickler) readLine(at int) (string, error) {
	i := bytes.IndexByte(u.data[u.pos:], '\n')
	if i < 0 {
		return "", u.eofErrorf(at, "the pickle ends inside a text field (truncated file?)")
	}
	s := string(u.data[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop(at int) (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1]) {
		return nil, u.errorf(at, "stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top(at int) (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1]) {
		return nil, u.errorf(at, "stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the values pushed since the last MARK and removes them
// and the mark.
func (u *unpickler) popMark(at int) ([]any, error) {
	if len(u.marks) == 0 {
		return nil, u.errorf(at, "no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	clear(u.stack[m:])
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoPut(at int, i uint64) error {
	v, err := u.top(at)
	if err != nil {
		return err
	}
	u.memo[i] = v
	return nil
}

func (u *unpickler) memoGet(at int, i uint64) error {
	v, ok := u.memo[i]
	if !ok {
		return u.errorf(at, "memo entry %d was never stored", i)
	}
	u.push(v)
	return nil
}

// run executes opcodes until STOP.
func (u *unpickler) run() (any, error) {
	for {
		at := u.pos
		if u.pos >= len(u.data) {
			return nil, u.eofErrorf(at, "the pickle ends without a STOP opcode (truncated file?)")
		}
		op := u.data[u.pos]
		u.pos++
		if err := u.step(at, op); err != nil {
			if err == errStop {
				if len(u.marks) != 0 {
					return nil, u.errorf(at, "STOP with an open MARK")
				}
				if len(u.stack) != 1 {
					return nil, u.errorf(at, "STOP with %d values on the stack, want 1", len(u.stack))
				}
				return u.stack[0], nil
			}
			return nil, err
		}
	}
}

// errStop ends run; it never escapes this file.
var errStop = fmt.Errorf("STOP")

// step runs one opcode that started at byte at.
func (u *unpickler) step(at int, op byte) error {
	switch op {
	case opProto:
		b, err := u.read(at, 1)
		if err != nil {
			return err
		}
		if b[0] > 5 {
			return u.errorf(at, "pickle protocol %d is newer than 5", b[0])
		}
	case opFrame:
		// Frames only help a streaming reader; the data is in memory. The
		// length is still checked so that a bad one is reported here.
		b, err := u.read(at, 8)
		if err != nil {
			return err
		}
		if n := binary.LittleEndian.Uint64(b); n > uint64(len(u.data)-u.pos) {
			return u.eofErrorf(at, "a frame declares %d bytes but only %d remain (truncated file?)", n, len(u.data)-u.pos)
		}
	case opStop:
		return errStop

	case opMark:
		u.marks = append(u.marks, len(u.stack))
	case opPop:
		if len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1] {
			// POP right after a MARK discards the mark (pickle.py's
			// behaviour).
			u.marks = u.marks[:len(u.marks)-1]
			return nil
		}
		_, err := u.pop(at)
		return err
	case opPopMark:
		_, err := u.popMark(at)
		return err
	case opDup:
		v, err := u.top(at)
		if err != nil {
			return err
		}
		u.push(v)

	case opNone:
		u.push(nil)
	case opNewTrue:
		u.push(true)
	case opNewFalse:
		u.push(false)
	case opBinInt:
		b, err := u.read(at, 4)
		if err != nil {
			return err
		}
		u.push(int64(int32(binary.LittleEndian.Uint32(b))))
	case opBinInt1:
		b, err := u.read(at, 1)
		if err != nil {
			return err
		}
		u.push(int64(b[0]))
	case opBinInt2:
		b, err := u.read(at, 2)
		if err != nil {
			return err
		}
		u.push(int64(binary.LittleEndian.Uint16(b)))
	case opLong1:
		b, err := u.readLen(at, 1)
		if err != nil {
			return err
		}
		u.push(decodeLong(b))
	case opLong4:
		b, err := u.read(at, 4)
		if err != nil {
			return err
		}
		n := binary.LittleEndian.Uint32(b)
		if int32(n) < 0 || n > maxLongBytes {
			return u.errorf(at, "a %d-byte integer is beyond what a checkpoint holds", int32(n))
		}
		b, err = u.read(at, int(n))
		if err != nil {
			return err
		}
		u.push(decodeLong(b))
	case opInt:
		s, err := u.readLine(at)
		if err != nil {
			return err
		}
		switch s {
		case "00":
			u.push(false)
		case "01":
			u.push(true)
		default:
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return u.errorf(at, "bad INT %q", clip(s))
			}
			u.push(n)
		}
	case opLong:
		s, err := u.readLine(at)
		if err != nil {
			return err
		}
		s = strings.TrimSuffix(s, "L")
		if len(s) > 2*maxLongBytes {
			return u.errorf(at, "a %d-digit integer is beyond what a checkpoint holds", len(s))
		}
		n, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return u.errorf(at, "bad LONG %q", clip(s))
		}
		u.push(normInt(n))
	case opBinFloat:
		b, err := u.read(at, 8)
		if err != nil {
			return err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case opFloat:
		s, err := u.readLine(at)
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return u.errorf(at, "bad FLOAT %q", clip(s))
		}
		u.push(f)

	case opBinUnicode, opShortBinUnicode, opBinUnicode8, opBinString, opShortBinString:
		b, err := u.readLen(at, lengthSize(op))
		if err != nil {
			return err
		}
		// Python 2's str (BINSTRING) is read as text, as torch.load does
		// with its default encoding; invalid UTF-8 is kept byte for byte
		// and refused later where a name must be text.
		u.push(string(b))
	case opBinBytes, opShortBinBytes, opBinBytes8, opByteArray8:
		b, err := u.readLen(at, lengthSize(op))
		if err != nil {
			return err
		}
		u.push(pyBytes(b))

	case opEmptyTuple:
		u.push(pyTuple{})
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		t := make(pyTuple, n)
		for i := n - 1; i >= 0; i-- {
			v, err := u.pop(at)
			if err != nil {
				return err
			}
			t[i] = v
		}
		u.push(t)
	case opTuple:
		items, err := u.popMark(at)
		if err != nil {
			return err
		}
		u.push(pyTuple(items))
	case opEmptyList:
		u.push(&pyList{})
	case opList:
		items, err := u.popMark(at)
		if err != nil {
			return err
		}
		u.push(&pyList{items: items})
	case opAppend:
		v, err := u.pop(at)
		if err != nil {
			return err
		}
		return u.appendTo(at, []any{v})
	case opAppends:
		items, err := u.popMark(at)
		if err != nil {
			return err
		}
		return u.appendTo(at, items)
	case opEmptyDict:
		u.push(newDict("dict"))
	case opDict:
		items, err := u.popMark(at)
		if err != nil {
			return err
		}
		d := newDict("dict")
		if err := u.setItems(at, d, items); err != nil {
			return err
		}
		u.push(d)
	case opSetItem:
		v, err := u.pop(at)
		if err != nil {
			return err
		}
		k, err := u.pop(at)
		if err != nil {
			return err
		}
		return u.setItemsOnTop(at, []any{k, v})
	case opSetItems:
		items, err := u.popMark(at)
		if err != nil {
			return err
		}
		return u.setItemsOnTop(at, items)
	case opEmptySet:
		u.push(&pySet{})
	case opAddItems:
		items, err := u.popMark(at)
		if err != nil {
			return err
		}
		t, err := u.top(at)
		if err != nil {
			return err
		}
		s, ok := t.(*pySet)
		if !ok {
			return u.errorf(at, "ADDITEMS to a %s", typeName(t))
		}
		s.items = append(s.items, items...)
	case opFrozenSet:
		items, err := u.popMark(at)
		if err != nil {
			return err
		}
		u.push(&pySet{items: items})

	case opBinPut:
		b, err := u.read(at, 1)
		if err != nil {
			return err
		}
		return u.memoPut(at, uint64(b[0]))
	case opLongBinPut:
		b, err := u.read(at, 4)
		if err != nil {
			return err
		}
		return u.memoPut(at, uint64(binary.LittleEndian.Uint32(b)))
	case opMemoize:
		return u.memoPut(at, uint64(len(u.memo)))
	case opPut:
		s, err := u.readLine(at)
		if err != nil {
			return err
		}
		i, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return u.errorf(at, "bad PUT index %q", clip(s))
		}
		return u.memoPut(at, i)
	case opBinGet:
		b, err := u.read(at, 1)
		if err != nil {
			return err
		}
		return u.memoGet(at, uint64(b[0]))
	case opLongBinGet:
		b, err := u.read(at, 4)
		if err != nil {
			return err
		}
		return u.memoGet(at, uint64(binary.LittleEndian.Uint32(b)))
	case opGet:
		s, err := u.readLine(at)
		if err != nil {
			return err
		}
		i, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return u.errorf(at, "bad GET index %q", clip(s))
		}
		return u.memoGet(at, i)

	case opGlobal:
		mod, err := u.readLine(at)
		if err != nil {
			return err
		}
		name, err := u.readLine(at)
		if err != nil {
			return err
		}
		return u.global(at, mod, name)
	case opStackGlobal:
		name, err := u.pop(at)
		if err != nil {
			return err
		}
		mod, err := u.pop(at)
		if err != nil {
			return err
		}
		ms, ok1 := mod.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return u.errorf(at, "STACK_GLOBAL of a %s and a %s, want two strings", typeName(mod), typeName(name))
		}
		return u.global(at, ms, ns)
	case opReduce:
		args, err := u.pop(at)
		if err != nil {
			return err
		}
		fn, err := u.pop(at)
		if err != nil {
			return err
		}
		v, err := u.call(at, fn, args)
		if err != nil {
			return err
		}
		u.push(v)
	case opNewObj:
		args, err := u.pop(at)
		if err != nil {
			return err
		}
		cls, err := u.pop(at)
		if err != nil {
			return err
		}
		v, err := u.newObj(at, cls, args, nil)
		if err != nil {
			return err
		}
		u.push(v)
	case opNewObjEx:
		kwargs, err := u.pop(at)
		if err != nil {
			return err
		}
		args, err := u.pop(at)
		if err != nil {
			return err
		}
		cls, err := u.pop(at)
		if err != nil {
			return err
		}
		v, err := u.newObj(at, cls, args, kwargs)
		if err != nil {
			return err
		}
		u.push(v)
	case opBuild:
		state, err := u.pop(at)
		if err != nil {
			return err
		}
		obj, err := u.top(at)
		if err != nil {
			return err
		}
		return u.build(at, obj, state)
	case opBinPersID:
		pid, err := u.pop(at)
		if err != nil {
			return err
		}
		if u.persistentLoad == nil {
			return u.errorf(at, "a persistent reference (a tensor storage) where none belongs")
		}
		v, err := u.persistentLoad(pid)
		if err != nil {
			return u.errorf(at, "%v", err)
		}
		u.push(v)

	case opInst, opObj:
		return u.errorf(at, "opcode %q (a protocol-0/1 class instance) is not allowed: a PyTorch checkpoint needs none", op)
	case opExt1, opExt2, opExt4:
		return u.errorf(at, "opcode EXT (the copyreg extension registry) is not allowed: a PyTorch checkpoint needs none")
	case opPersID:
		return u.errorf(at, "opcode PERSID (a text persistent id) is not allowed: torch.save writes BINPERSID")
	case opString, opUnicode:
		return u.errorf(at, "opcode %q (an escaped protocol-0 string) is not supported: torch.save writes protocol 2", op)
	case opNextBuffer, opReadOnlyBuffer:
		return u.errorf(at, "out-of-band buffers (protocol 5) are not supported: torch.save writes protocol 2")
	default:
		return u.errorf(at, "unknown opcode 0x%02x (not a pickle, or a corrupt one)", op)
	}
	return nil
}

// appendTo appends items to the list on top of the stack.
func (u *unpickler) appendTo(at int, items []any) error {
	t, err := u.top(at)
	if err != nil {
		return err
	}
	switch l := t.(type) {
	case *pyList:
		l.items = append(l.items, items...)
	case *pySet:
		// set(list) in protocol 2 never appends, but a list-like that
		// supports extend() may; a set collects them harmlessly.
		l.items = append(l.items, items...)
	default:
		return u.errorf(at, "APPEND to a %s", typeName(t))
	}
	return nil
}

// setItemsOnTop sets key/value pairs on the dict on top of the stack.
func (u *unpickler) setItemsOnTop(at int, kv []any) error {
	t, err := u.top(at)
	if err != nil {
		return err
	}
	d, ok := t.(*pyDict)
	if !ok {
		return u.errorf(at, "SETITEM on a %s", typeName(t))
	}
	return u.setItems(at, d, kv)
}

func (u *unpickler) setItems(at int, d *pyDict, kv []any) error {
	if len(kv)%2 != 0 {
		return u.errorf(at, "SETITEMS with an odd number (%d) of keys and values", len(kv))
	}
	for i := 0; i < len(kv); i += 2 {
		d.set(kv[i], kv[i+1])
	}
	return nil
}

// lengthSize is the size of the length field of a string or bytes opcode.
func lengthSize(op byte) int {
	switch op {
	case opShortBinUnicode, opShortBinString, opShortBinBytes:
		return 1
	case opBinUnicode8, opBinBytes8, opByteArray8:
		return 8
	}
	return 4
}

// decodeLong decodes a little-endian two's-complement integer.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		shift := 64 - 8*uint(len(b))
		return int64(v<<shift) >> shift // sign-extend
	}
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	n := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return normInt(n)
}

// normInt returns n as an int64 when it fits.
func normInt(n *big.Int) any {
	if n.IsInt64() {
		return n.Int64()
	}
	return n
}

// typeName names a value's Python type for an error message.
func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case pyBytes:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pySet:
		return "set"
	case *pyDict:
		return v.typeName
	case *pyGlobal:
		return v.String()
	case *storageRef:
		return "storage"
	case *tensorRef:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// clip shortens text from a file for an error message.
func clip(s string) string {
	const limit = 80
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
