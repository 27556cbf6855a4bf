package torchfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// pk assembles a pickle by hand, opcode by opcode.
type pk struct{ bytes.Buffer }

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }

func (p *pk) global(mod, name string) *pk {
	p.WriteByte(opGlobal)
	p.WriteString(mod + "\n" + name + "\n")
	return p
}

func (p *pk) str(s string) *pk {
	p.WriteByte(opBinUnicode)
	binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

func (p *pk) int(n int32) *pk {
	p.WriteByte(opBinInt)
	binary.Write(p, binary.LittleEndian, n)
	return p
}

func (p *pk) ints(ns ...int32) *pk {
	p.op(opMark)
	for _, n := range ns {
		p.int(n)
	}
	return p.op(opTuple)
}

// tensor pushes _rebuild_tensor_v2 of storage key (FloatStorage of numel
// elements, zip persistent id) with the given view.
func (p *pk) tensor(key string, numel int32, offset int32, shape, stride []int32) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.op(opMark)
	p.op(opMark).str("storage").global("torch", "FloatStorage").str(key).str("cpu").int(numel).op(opTuple, opBinPersID)
	p.int(offset).ints(shape...).ints(stride...).op(opNewFalse, opEmptyTuple)
	return p.op(opTuple, opReduce)
}

// stateDict makes the pickle of {name: tensor(...)}.
func stateDict(name, key string, numel, offset int32, shape, stride []int32) []byte {
	var p pk
	p.op(opProto, 2, opEmptyDict, opMark).str(name).tensor(key, numel, offset, shape, stride).op(opSetItems, opStop)
	return p.Bytes()
}

// torchZip writes a zip archive as torch.save lays it out: records stored
// uncompressed under "archive/".
func torchZip(t testing.TB, pkl []byte, storages map[string][]byte) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	add := func(name string, data []byte) {
		f, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data)
	}
	add("archive/data.pkl", pkl)
	for k, v := range storages {
		add("archive/data/"+k, v)
	}
	add("archive/version", []byte("3\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// legacyFile lays out a legacy-format file: magic, protocol, system info,
// the object pickle, the key list, then each storage (8-byte count, data).
func legacyFile(obj []byte, keys []string, storages [][]byte, elem int) []byte {
	var b bytes.Buffer
	b.Write([]byte{opProto, 2, opLong1, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, opStop})
	b.Write([]byte{opProto, 2, opBinInt2, 0xe9, 0x03, opStop})
	var info pk
	info.op(opProto, 2, opEmptyDict).str("little_endian").op(opNewTrue, opSetItem, opStop)
	b.Write(info.Bytes())
	b.Write(obj)
	var kl pk
	kl.op(opProto, 2, opEmptyList, opMark)
	for _, k := range keys {
		kl.str(k)
	}
	kl.op(opAppends, opStop)
	b.Write(kl.Bytes())
	for _, s := range storages {
		binary.Write(&b, binary.LittleEndian, int64(len(s)/elem))
		b.Write(s)
	}
	return b.Bytes()
}

// legacyStateDict is stateDict with legacy persistent ids (a view field).
func legacyStateDict(name, key string, numel, offset int32, shape, stride []int32) []byte {
	return bytes.Replace(stateDict(name, key, numel, offset, shape, stride),
		[]byte{opTuple, opBinPersID}, []byte{opNone, opTuple, opBinPersID}, 1)
}

func floats(n int) []byte {
	b := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(i)))
	}
	return b
}

// readBytes reads a checkpoint held in memory, failing the test on a panic.
func readBytes(name string, b []byte) (*File, error) {
	return ReadFrom(name, bytes.NewReader(b), int64(len(b)), nil)
}

// wantErr checks that err is a format error naming the file and saying
// each of the phrases.
func wantErr(t *testing.T, err error, name string, phrases ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one saying %q", phrases)
	}
	if !errors.Is(err, ErrFormat) {
		t.Errorf("%v does not match ErrFormat", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, name) {
		t.Errorf("%q does not name the file %s", msg, name)
	}
	for _, p := range phrases {
		if !strings.Contains(msg, p) {
			t.Errorf("%q does not say %q", msg, p)
		}
	}
}

func TestHandMadeFilesRead(t *testing.T) {
	// The helpers themselves make readable files, so the failures below
	// come from the one thing each changes.
	pkl := stateDict("w", "0", 6, 0, []int32{2, 3}, []int32{3, 1})
	f, err := readBytes("ok.pt", torchZip(t, pkl, map[string][]byte{"0": floats(6)}))
	if err != nil || len(f.Tensors) != 1 || f.Tensors[0].Name != "w" {
		t.Fatalf("zip: %+v, %v", f, err)
	}
	leg := legacyFile(legacyStateDict("w", "0", 6, 0, []int32{2, 3}, []int32{3, 1}), []string{"0"}, [][]byte{floats(6)}, 4)
	f, err = readBytes("ok.pt", leg)
	if err != nil || len(f.Tensors) != 1 || f.Format != Legacy {
		t.Fatalf("legacy: %+v, %v", f, err)
	}
	v, _ := f.Tensors[0].Float32s()
	if fmt.Sprint(v) != "[0 1 2 3 4 5]" {
		t.Errorf("legacy values %v", v)
	}
}

// TestTruncated cuts every fixture at many lengths: each prefix must fail
// with an error naming the file, and none may panic.
func TestTruncated(t *testing.T) {
	for _, name := range []string{"plain_zip.pt", "plain_legacy.pt", "lightning.ckpt", "snapshot.pth.tar"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		step := max(1, len(b)/400)
		for n := 0; n < len(b); n += step {
			_, err := readBytes(name, b[:n])
			if err == nil {
				t.Fatalf("%s cut to %d of %d bytes was read", name, n, len(b))
			}
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("%s cut to %d: %v does not name the file", name, n, err)
			}
			if _, err := ReadHeaderFrom(name, bytes.NewReader(b[:n]), int64(n)); err == nil {
				t.Fatalf("%s cut to %d: the header was read", name, n)
			}
		}
	}
	b, _ := os.ReadFile("testdata/plain_zip.pt")
	_, err := readBytes("cut.pt", b[:len(b)/2])
	wantErr(t, err, "cut.pt", "not a valid zip archive")
	b, _ = os.ReadFile("testdata/plain_legacy.pt")
	_, err = readBytes("cut.pt", b[:len(b)-2])
	wantErr(t, err, "cut.pt", "run past the end", "truncated")
	_, err = readBytes("cut.pt", b[:len(b)-30])
	wantErr(t, err, "cut.pt", "truncated")
	_, err = readBytes("long.pt", append(b, 0))
	wantErr(t, err, "long.pt", "1 bytes after the last storage")
}

func TestForbiddenGlobals(t *testing.T) {
	var evil pk
	evil.op(opProto, 2).global("os", "system").str("echo pwned").op(opTuple1, opReduce, opStop)
	for _, b := range [][]byte{
		torchZip(t, evil.Bytes(), nil),
		legacyFile(evil.Bytes(), nil, nil, 4),
	} {
		_, err := readBytes("evil.pt", b)
		wantErr(t, err, "evil.pt", "global os.system is not allowed", "never runs code")
		var fg *ForbiddenGlobalError
		if !errors.As(err, &fg) || fg.Global != "os.system" {
			t.Errorf("%v is not a ForbiddenGlobalError for os.system", err)
		}
	}
	// STACK_GLOBAL (protocol 4) is checked the same way, and so is a
	// global hidden inside a state_dict.
	var p4 pk
	p4.op(opProto, 4).op(opShortBinUnicode, 8).WriteString("builtins")
	p4.op(opShortBinUnicode, 4).WriteString("eval")
	p4.op(opStackGlobal).str("1").op(opTuple1, opReduce, opStop)
	_, err := readBytes("p4.pt", torchZip(t, p4.Bytes(), nil))
	wantErr(t, err, "p4.pt", "builtins.eval is not allowed")

	var model pk
	model.op(opProto, 2).global("torch.nn.modules.linear", "Linear").op(opEmptyTuple, opNewObj, opStop)
	_, err = readBytes("model.pt", torchZip(t, model.Bytes(), nil))
	wantErr(t, err, "model.pt", "torch.nn.modules.linear.Linear is not allowed", "state_dict()")

	// An allowed class may be named but not called.
	var cb pk
	cb.op(opProto, 2).global("pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint").op(opEmptyTuple, opReduce, opStop)
	_, err = readBytes("cb.pt", torchZip(t, cb.Bytes(), nil))
	wantErr(t, err, "cb.pt", "may be named but not called")
	// Nor may a storage type be called.
	var st pk
	st.op(opProto, 2).global("torch", "FloatStorage").op(opEmptyTuple, opReduce, opStop)
	_, err = readBytes("st.pt", torchZip(t, st.Bytes(), nil))
	wantErr(t, err, "st.pt", "torch.FloatStorage may be named but not called")
	// Protocol 0/1 instantiation and the extension registry are refused.
	for _, op := range []byte{opInst, opObj, opExt1} {
		_, err = readBytes("op.pt", torchZip(t, []byte{opProto, 2, op, 'x', '\n', 'y', '\n', opStop}, nil))
		wantErr(t, err, "op.pt", "not allowed")
	}
}

func TestShortStorage(t *testing.T) {
	// A 3x3 tensor of a 6-element storage.
	pkl := stateDict("w", "0", 6, 0, []int32{3, 3}, []int32{3, 1})
	_, err := readBytes("short.pt", torchZip(t, pkl, map[string][]byte{"0": floats(6)}))
	wantErr(t, err, "short.pt", `tensor "w"`, "needs 9 elements of its storage, which holds 6", "storage shorter than its tensor")
	leg := legacyFile(legacyStateDict("w", "0", 6, 0, []int32{3, 3}, []int32{3, 1}), []string{"0"}, [][]byte{floats(6)}, 4)
	_, err = readBytes("short.pt", leg)
	wantErr(t, err, "short.pt", "needs 9 elements")
	// An offset past the end, a stride that reaches beyond it.
	_, err = readBytes("off.pt", torchZip(t, stateDict("w", "0", 6, 5, []int32{2}, []int32{1}), map[string][]byte{"0": floats(6)}))
	wantErr(t, err, "off.pt", "needs 7 elements")
	_, err = readBytes("stride.pt", torchZip(t, stateDict("w", "0", 6, 0, []int32{2, 2}, []int32{5, 1}), map[string][]byte{"0": floats(6)}))
	wantErr(t, err, "stride.pt", "needs 7 elements")
	// The record shorter than the element count the pickle declares.
	_, err = readBytes("rec.pt", torchZip(t, stateDict("w", "0", 6, 0, []int32{6}, []int32{1}), map[string][]byte{"0": floats(5)}))
	wantErr(t, err, "rec.pt", "declares 6 float32 elements (24 bytes) but its record holds 20 bytes")
	// A missing record.
	_, err = readBytes("none.pt", torchZip(t, stateDict("w", "0", 6, 0, []int32{6}, []int32{1}), nil))
	wantErr(t, err, "none.pt", "has no record archive/data/0")
	// A legacy count that disagrees with the pickle.
	leg = legacyFile(legacyStateDict("w", "0", 6, 0, []int32{6}, []int32{1}), []string{"0"}, [][]byte{floats(7)}, 4)
	_, err = readBytes("count.pt", leg)
	wantErr(t, err, "count.pt", "holds 7 elements but its tensors were saved with 6")
}

func TestShapeOverflow(t *testing.T) {
	big := int32(math.MaxInt32)
	for _, c := range []struct {
		shape, stride []int32
		offset        int32
		want          string
	}{
		{[]int32{big, big, big}, []int32{0, 0, 0}, 0, "the product overflows"},
		{[]int32{big, big, 4}, []int32{1, 1, 1}, 0, "the product overflows"},
		{[]int32{2, 2}, []int32{big, big}, big, "needs"},
		{[]int32{-1}, []int32{1}, 0, "negative"},
	} {
		_, err := readBytes("huge.pt", torchZip(t, stateDict("w", "0", 6, c.offset, c.shape, c.stride), map[string][]byte{"0": floats(6)}))
		wantErr(t, err, "huge.pt", c.want)
	}
	// Dimensions beyond int32 and beyond int64 (LONG1 of 9 bytes).
	var p pk
	p.op(opProto, 2, opEmptyDict).str("w").global("torch._utils", "_rebuild_tensor_v2")
	p.op(opMark, opMark).str("storage").global("torch", "FloatStorage").str("0").str("cpu").int(6).op(opTuple, opBinPersID)
	p.int(0).op(opLong1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, opTuple1).op(opLong1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, opTuple1)
	p.op(opNewFalse, opEmptyTuple, opTuple, opReduce, opSetItem, opStop)
	_, err := readBytes("long.pt", torchZip(t, p.Bytes(), map[string][]byte{"0": floats(6)}))
	wantErr(t, err, "long.pt", "absurdly large integer")
	var q pk
	q.op(opProto, 2, opEmptyDict).str("w").global("torch._utils", "_rebuild_tensor_v2")
	q.op(opMark, opMark).str("storage").global("torch", "FloatStorage").str("0").str("cpu").int(6).op(opTuple, opBinPersID)
	q.int(0).op(opLong1, 5, 0, 0, 0, 0, 1, opTuple1).op(opLong1, 5, 0, 0, 0, 0, 1, opTuple1)
	q.op(opNewFalse, opEmptyTuple, opTuple, opReduce, opSetItem, opStop)
	_, err = readBytes("dim.pt", torchZip(t, q.Bytes(), map[string][]byte{"0": floats(6)}))
	wantErr(t, err, "dim.pt", "absurd dimension")
}

// TestNoAmplification: a tiny file whose tensor repeats one element a
// billion times (stride 0) is refused at once, without the 4 GB.
func TestNoAmplification(t *testing.T) {
	start := time.Now()
	_, err := readBytes("bomb.pt", torchZip(t, stateDict("w", "0", 1, 0, []int32{1 << 30}, []int32{0}), map[string][]byte{"0": floats(1)}))
	wantErr(t, err, "bomb.pt", "more than the file's storages hold")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing took %v", d)
	}
	// Many different views of one storage add up the same way (the same
	// view twice costs nothing: it shares its bytes).
	var p pk
	p.op(opProto, 2, opEmptyDict, opMark)
	for i := range 64 {
		p.str(fmt.Sprint("w", i)).tensor("0", 64, 0, []int32{int32(i + 1)}, []int32{1})
	}
	p.op(opSetItems, opStop)
	_, err = readBytes("many.pt", torchZip(t, p.Bytes(), map[string][]byte{"0": floats(64)}))
	wantErr(t, err, "many.pt", "more than the file's storages hold")
	// A compressed record could expand; it is refused before it is read.
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, _ := w.CreateHeader(&zip.FileHeader{Name: "archive/data.pkl", Method: zip.Deflate})
	f.Write(stateDict("w", "0", 6, 0, []int32{6}, []int32{1}))
	w.Close()
	_, err = readBytes("deflate.pt", b.Bytes())
	wantErr(t, err, "deflate.pt", "compressed (method 8)")
}

func TestCorruptData(t *testing.T) {
	b, err := os.ReadFile("testdata/plain_zip.pt")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == "plain_zip/data/0" {
			off, _ := f.DataOffset()
			c := append([]byte(nil), b...)
			c[off] ^= 1
			_, err := readBytes("crc.pt", c)
			wantErr(t, err, "crc.pt", "CRC-32 mismatch")
			// The header does not read the data, so it does not notice.
			if _, err := ReadHeaderFrom("crc.pt", bytes.NewReader(c), int64(len(c))); err != nil {
				t.Errorf("header: %v", err)
			}
		}
	}
}

func TestNotAStateDict(t *testing.T) {
	for _, c := range []struct {
		pkl  []byte
		want string
	}{
		{[]byte{opProto, 2, opEmptyList, opStop}, "holds a list, not a state_dict"},
		{new(pk).op(opProto, 2, opEmptyDict).str("epoch").int(3).op(opSetItem, opStop).Bytes(), `no state_dict found: the checkpoint is a dict of 1 keys ["epoch"]`},
		{new(pk).op(opProto, 2, opEmptyDict).int(1).tensor("0", 6, 0, []int32{6}, []int32{1}).op(opSetItem, opStop).Bytes(), "a key of type int"},
		{new(pk).op(opProto, 2, opEmptyDict).str("a\xff").tensor("0", 6, 0, []int32{6}, []int32{1}).op(opSetItem, opStop).Bytes(), "not valid UTF-8"},
		{new(pk).op(opProto, 2, opEmptyDict).str("__metadata__").tensor("0", 6, 0, []int32{6}, []int32{1}).op(opSetItem, opStop).Bytes(), "reserved"},
	} {
		_, err := readBytes("x.pt", torchZip(t, c.pkl, map[string][]byte{"0": floats(6)}))
		wantErr(t, err, "x.pt", c.want)
	}
	var ts bytes.Buffer
	w := zip.NewWriter(&ts)
	for _, n := range []string{"m/constants.pkl", "m/code/__torch__.py", "m/data/0"} {
		f, _ := w.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		f.Write([]byte("x"))
	}
	w.Close()
	_, err := readBytes("script.pt", ts.Bytes())
	wantErr(t, err, "script.pt", "TorchScript")
}

func TestPickleErrors(t *testing.T) {
	for _, c := range []struct {
		pkl  []byte
		want string
	}{
		{[]byte{opProto, 2, opPop, opStop}, "stack underflow"},
		{[]byte{opProto, 2, opMark, opNone, opStop}, "open MARK"},
		{[]byte{opProto, 2, opNone, opNone, opStop}, "2 values on the stack"},
		{[]byte{opProto, 2, opBinGet, 7, opStop}, "memo entry 7 was never stored"},
		{[]byte{opProto, 2, opEmptyDict, opMark, opNone, opSetItems, opStop}, "odd number"},
		{[]byte{opProto, 2, opEmptyList, opNone, opNone, opSetItem, opStop}, "SETITEM on a list"},
		{[]byte{opProto, 2, opNone, opNone, opAppend, opStop}, "APPEND to a None"},
		{[]byte{opProto, 2, opBinUnicode, 0xff, 0xff, 0xff, 0x7f, 'a', opStop}, "declares 2147483647 bytes but only 2 remain"},
		{[]byte{opProto, 2, opNone}, "without a STOP"},
		{[]byte{opProto, 9, opNone, opStop}, "protocol 9"},
		{[]byte{opProto, 2, 0xff}, "unknown opcode 0xff"},
		{[]byte{opProto, 2, opNone, opBinPersID, opStop}, "persistent id"},
		{[]byte{opProto, 2, opNone, opNone, opReduce, opStop}, "not callable"},
	} {
		_, err := readBytes("p.pt", torchZip(t, c.pkl, nil))
		wantErr(t, err, "p.pt", c.want)
	}
}

func TestNotRegular(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(dir, nil); err == nil || !strings.Contains(err.Error(), "a directory") {
		t.Errorf("directory: %v", err)
	}
	if _, err := ReadHeader(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	if _, err := DetectFile(filepath.Join(dir, "none")); err == nil {
		t.Error("a missing file was detected")
	}
}

// TestPathologicalPickles: inputs built to make a naive unpickler slow or
// hungry (megabytes of text opcodes, lists nested a million deep, a list
// that holds itself twice, whose text would be exponentially long) take
// time and memory in proportion to their size.
func TestPathologicalPickles(t *testing.T) {
	start := time.Now()
	var text bytes.Buffer
	text.Write([]byte{opProto, 2, opNone, 'p', '0', '\n'})
	for text.Len() < 4<<20 {
		text.WriteString("0g0\n")
	}
	text.WriteByte(opStop)
	if _, _, err := unpickle("text", text.Bytes(), nil); err != nil {
		t.Fatal(err)
	}

	var deep pk
	deep.op(opProto, 2, opEmptyDict).str("x")
	deep.Write(bytes.Repeat([]byte{opEmptyList}, 1<<20))
	deep.Write(bytes.Repeat([]byte{opAppend}, 1<<20-1))
	deep.op(opSetItem).str("state_dict").op(opEmptyDict).str("w").tensor("0", 6, 0, []int32{6}, []int32{1}).op(opSetItem, opSetItem, opStop)
	f, err := readBytes("deep.pt", torchZip(t, deep.Bytes(), map[string][]byte{"0": floats(6)}))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 1 || !strings.Contains(strings.Join(f.Notes, " "), "left out x: nested more than 64 levels deep") {
		t.Errorf("tensors %v, notes %v", f.Tensors, f.Notes)
	}

	twice := []byte{opProto, 2, opEmptyList, opBinPut, 0, opBinGet, 0, opBinGet, 0, opAppends, opStop}
	twice = slices.Insert(twice, 5, opMark)
	v, _, err := unpickle("twice", twice, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := renderJSON(v); err == nil {
		t.Error("a list holding itself was rendered")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}
