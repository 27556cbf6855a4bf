package torchfile

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/bits"
	"path"
	"sort"
	"strings"

	"github.com/vmdls-go/vmdls/safetensors"
)

// Format names the container of a PyTorch checkpoint.
type Format int

const (
	// Unknown is anything else (a safetensors file, say).
	Unknown Format = iota
	// Zip is the format of torch.save since PyTorch 1.6: a zip archive
	// holding DIR/data.pkl and one entry DIR/data/KEY per storage.
	Zip
	// Legacy is the format of torch.save before 1.6, and of
	// _use_new_zipfile_serialization=False since: pickles of a magic
	// number, the protocol version, system information, the object and the
	// storage keys, then the storages' raw bytes.
	Legacy
)

func (f Format) String() string {
	switch f {
	case Zip:
		return "zip"
	case Legacy:
		return "legacy"
	}
	return "unknown"
}

// ErrFormat is matched (errors.Is) by every error that reports a malformed
// or unsupported file, as opposed to one that could not be opened or read.
var ErrFormat = errors.New("torchfile: malformed or unsupported file")

// FormatError reports what is wrong with a file; Name is the file (and the
// part of it, such as "data.pkl"). It matches ErrFormat.
type FormatError struct {
	Name, Msg string
	// eof is set when the data ended early, so that a reader holding only
	// a prefix of the file knows to read more.
	eof bool
}

func (e *FormatError) Error() string { return "torchfile: " + e.Name + ": " + e.Msg }

// Is makes the error match ErrFormat.
func (e *FormatError) Is(target error) bool { return target == ErrFormat }

func formatErrorf(name, format string, args ...any) error {
	return &FormatError{Name: name, Msg: fmt.Sprintf(format, args...)}
}

// Options changes how tensors are converted.
type Options struct {
	// KeepFloat64 keeps float64 tensors as F64; by default they are
	// rounded to F32, the type vmdls models hold.
	KeepFloat64 bool
}

// TensorInfo describes one tensor of the state_dict as it will be
// returned.
type TensorInfo struct {
	Name  string
	DType safetensors.DType
	Shape []int
	// TorchDType is its dtype in the file ("float16").
	TorchDType string
}

// Header is what a checkpoint holds, validated, without its tensor data.
type Header struct {
	// Name is the path (or the name given to ReadHeaderFrom).
	Name   string
	Format Format
	// Tensors lists the state_dict's tensors in file order.
	Tensors []TensorInfo
	// Metadata holds the checkpoint's other entries as strings (see the
	// package documentation): "epoch", "global_step", "hyper_parameters"
	// (JSON), ..., and "torch_format", "torch_state_dict_key",
	// "torch_stripped_prefix", "torch_skipped".
	Metadata map[string]string
	// StateDictKey is the top-level key the state_dict was found under
	// ("state_dict"), or "" when the file is a state_dict.
	StateDictKey string
	// StrippedPrefix is "module." when every key had that prefix
	// (DataParallel) and it was removed, otherwise "".
	StrippedPrefix string
	// Notes say, in words, what was converted, stripped or skipped.
	Notes []string
}

// File is a checkpoint's state_dict read into memory, with its metadata.
type File struct {
	Header
	// Tensors are the state_dict's tensors in file order: floating-point
	// ones as F32 (F64 kept with Options.KeepFloat64), integer and bool
	// ones as I64, each contiguous whatever its strides in the file.
	Tensors []safetensors.Tensor
}

// ReadFile reads the state_dict and metadata of the PyTorch checkpoint at
// path (zip or legacy format). Anything but a regular file is refused
// before it is opened.
func ReadFile(path string, opt *Options) (*File, error) {
	fh, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return ReadFrom(path, fh, size, opt)
}

// ReadFrom reads the checkpoint of the given size that r holds; name
// stands for its path in error messages.
func ReadFrom(name string, r io.ReaderAt, size int64, opt *Options) (*File, error) {
	if opt == nil {
		opt = &Options{}
	}
	p, err := parse(name, r, size)
	if err != nil {
		return nil, err
	}
	h, views, err := p.header(opt)
	if err != nil {
		return nil, err
	}
	ts, err := p.materialize(h, views)
	if err != nil {
		return nil, err
	}
	return &File{Header: *h, Tensors: ts}, nil
}

// ReadHeader reads and validates the checkpoint at path like ReadFile, but
// reads no tensor data: every tensor's view is checked against the size of
// its storage, not against its bytes.
func ReadHeader(path string) (*Header, error) {
	fh, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return ReadHeaderFrom(path, fh, size)
}

// ReadHeaderFrom is ReadHeader for the checkpoint that r holds.
func ReadHeaderFrom(name string, r io.ReaderAt, size int64) (*Header, error) {
	p, err := parse(name, r, size)
	if err != nil {
		return nil, err
	}
	h, _, err := p.header(&Options{})
	return h, err
}

// DetectFile says which PyTorch format the file at path is in, reading at
// most its first 64 bytes; a path that is not a regular file is an error.
func DetectFile(path string) (Format, error) {
	fh, size, err := openRegular(path)
	if err != nil {
		return Unknown, err
	}
	defer fh.Close()
	return Detect(fh, size), nil
}

// legacyMagic is the number that starts a legacy-format file.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// Detect says which PyTorch format the content of r is in, from its first
// 64 bytes: a zip archive (the local header signature), or a pickle whose
// first object is the legacy magic number. Unknown means neither.
func Detect(r io.ReaderAt, size int64) Format {
	head := make([]byte, min(max(size, 0), 64))
	if n, _ := r.ReadAt(head, 0); n < len(head) {
		return Unknown
	}
	if bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")) {
		return Zip
	}
	if len(head) > 2 && head[0] == opProto {
		if v, _, err := unpickle("", head, nil); err == nil {
			if n, ok := v.(*big.Int); ok && n.Cmp(legacyMagic) == 0 {
				return Legacy
			}
		}
	}
	return Unknown
}

// parsed is a checkpoint whose pickle has been run: its top-level object
// and how to read its storages.
type parsed struct {
	name   string
	format Format
	root   any
	// storageBytes is the number of bytes all of the file's storages
	// hold: the returned tensors may hold no more elements than that.
	storageBytes int64
	// readStorage returns the bytes of a root storage (numel × element
	// size).
	readStorage func(s *storageRef) ([]byte, error)
}

func parse(name string, r io.ReaderAt, size int64) (*parsed, error) {
	switch Detect(r, size) {
	case Zip:
		return parseZip(name, r, size)
	case Legacy:
		return parseLegacy(name, r, size)
	}
	if size >= 262 {
		var b [5]byte
		if _, err := r.ReadAt(b[:], 257); err == nil && string(b[:]) == "ustar" {
			return nil, formatErrorf(name, "a tar archive: the format of torch.save before PyTorch 0.1.10 is not supported; load and save it again with a newer PyTorch")
		}
	}
	return nil, formatErrorf(name, "not a PyTorch checkpoint: neither a zip archive (torch.save since 1.6) nor a pickle starting with the legacy magic number")
}

// --- the zip format ---

func parseZip(name string, r io.ReaderAt, size int64) (*parsed, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, formatErrorf(name, "not a valid zip archive (truncated or corrupt file?): %v", err)
	}
	entries := map[string]*zip.File{}
	var pkl []*zip.File
	for _, f := range zr.File {
		if _, dup := entries[f.Name]; dup {
			return nil, formatErrorf(name, "the archive holds %q twice", clip(f.Name))
		}
		entries[f.Name] = f
		if path.Base(f.Name) == "data.pkl" && strings.Count(f.Name, "/") == 1 {
			pkl = append(pkl, f)
		}
	}
	switch {
	case len(pkl) > 1:
		return nil, formatErrorf(name, "the archive holds %d data.pkl records (%s, %s, ...); want one", len(pkl), pkl[0].Name, pkl[1].Name)
	case len(pkl) == 0:
		for n := range entries {
			if path.Base(n) == "constants.pkl" || strings.Contains(n, "/code/") {
				return nil, formatErrorf(name, "a TorchScript archive (torch.jit.save), not a torch.save checkpoint; save the model's state_dict() with torch.save instead")
			}
		}
		return nil, formatErrorf(name, "a zip archive without a DIR/data.pkl record: not a torch.save checkpoint")
	}
	dir := strings.TrimSuffix(pkl[0].Name, "data.pkl")
	// The records of a genuine archive do not overlap, so their sizes add
	// up to less than the file's. Overlapping ones (a zip bomb's trick)
	// could make a small file stand for any number of large storages.
	var total uint64
	var storageBytes int64
	for n, f := range entries {
		if f.Method != zip.Store {
			return nil, formatErrorf(name, "record %s is compressed (method %d); torch.save stores records uncompressed, and a compressed one could expand beyond the file", clip(n), f.Method)
		}
		total += min(f.UncompressedSize64, uint64(size)+1)
		if total > uint64(size) {
			return nil, formatErrorf(name, "the archive's records declare more bytes than the %d-byte file holds (record %s; overlapping or corrupt records)", size, clip(n))
		}
		if strings.HasPrefix(n, dir+"data/") {
			storageBytes += int64(f.UncompressedSize64)
		}
	}
	if f, ok := entries[dir+"byteorder"]; ok {
		b, err := readEntry(name, r, size, f, 16)
		if err != nil {
			return nil, err
		}
		if string(b) != "little" {
			return nil, formatErrorf(name, "byteorder %q: only little-endian checkpoints are supported", clip(string(b)))
		}
	}
	p := &parsed{name: name, format: Zip, storageBytes: storageBytes}
	data, err := readEntry(name, r, size, pkl[0], -1)
	if err != nil {
		return nil, err
	}
	storages := map[string]*storageRef{}
	load := func(pid any) (any, error) {
		t, ok := pid.(pyTuple)
		if !ok || len(t) != 5 || t[0] != "storage" {
			return nil, fmt.Errorf("persistent id %s is not ('storage', type, key, location, numel)", describePID(pid))
		}
		key, ok := t[2].(string)
		if !ok {
			return nil, fmt.Errorf("storage key of type %s", typeName(t[2]))
		}
		st, err := newStorage(t[1], key, t[3], t[4])
		if err != nil {
			return nil, fmt.Errorf("storage %q: %v", clip(key), err)
		}
		if old, ok := storages[key]; ok {
			if old.dtype != st.dtype || old.numel != st.numel {
				return nil, fmt.Errorf("storage %q is named as %s[%d] and as %s[%d]", clip(key), old.dtype.torch, old.numel, st.dtype.torch, st.numel)
			}
			return old, nil
		}
		f, ok := entries[dir+"data/"+key]
		if !ok {
			return nil, fmt.Errorf("storage %q has no record %sdata/%s in the archive (truncated file?)", clip(key), dir, clip(key))
		}
		if got := f.UncompressedSize64; got/uint64(st.dtype.size) != uint64(st.numel) || got%uint64(st.dtype.size) != 0 {
			return nil, fmt.Errorf("storage %q declares %d %s elements (%s bytes) but its record holds %d bytes (truncated or corrupt file)",
				clip(key), st.numel, st.dtype.torch, mulString(st.numel, st.dtype.size), got)
		}
		storages[key] = st
		return st, nil
	}
	p.root, _, err = unpickle(name+": "+pkl[0].Name, data, load)
	if err != nil {
		return nil, err
	}
	p.readStorage = func(s *storageRef) ([]byte, error) {
		return readEntry(name, r, size, entries[dir+"data/"+s.key], -1)
	}
	return p, nil
}

// readEntry reads one stored (uncompressed) archive record, after checking
// that it lies within the file, and checks its CRC-32. limit, when not -1,
// bounds its size.
func readEntry(name string, r io.ReaderAt, size int64, f *zip.File, limit int64) ([]byte, error) {
	if f.Method != zip.Store {
		return nil, formatErrorf(name, "record %s is compressed (method %d); torch.save stores records uncompressed, and a compressed one could expand beyond the file", clip(f.Name), f.Method)
	}
	n := f.UncompressedSize64
	if f.CompressedSize64 != n {
		return nil, formatErrorf(name, "record %s: stored with %d bytes but %d uncompressed (corrupt archive)", clip(f.Name), f.CompressedSize64, n)
	}
	off, err := f.DataOffset()
	if err != nil {
		return nil, formatErrorf(name, "record %s: %v (truncated or corrupt file?)", clip(f.Name), err)
	}
	if off < 0 || off > size || n > uint64(size-off) {
		return nil, formatErrorf(name, "record %s: %d bytes at offset %d run past the end of the %d-byte file (truncated file?)", clip(f.Name), n, off, size)
	}
	if n > math.MaxInt {
		return nil, formatErrorf(name, "record %s: %d bytes cannot be held in memory on this platform", clip(f.Name), n)
	}
	if limit >= 0 && n > uint64(limit) {
		return nil, formatErrorf(name, "record %s: %d bytes, more than the %d it may hold", clip(f.Name), n, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, formatErrorf(name, "record %s: %v", clip(f.Name), err)
	}
	defer rc.Close()
	b := make([]byte, n)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, fmt.Errorf("torchfile: %s: reading record %s: %w", name, clip(f.Name), err)
	}
	// The CRC is checked when the reader reaches the end.
	var one [1]byte
	if _, err := rc.Read(one[:]); err != io.EOF {
		if errors.Is(err, zip.ErrChecksum) {
			return nil, formatErrorf(name, "record %s: CRC-32 mismatch (corrupt file)", clip(f.Name))
		}
		return nil, formatErrorf(name, "record %s: %v", clip(f.Name), err)
	}
	return b, nil
}

// newStorage checks a persistent id's storage fields.
func newStorage(typ any, key string, location, numel any) (*storageRef, error) {
	g, ok := typ.(*pyGlobal)
	if !ok || g.kind != gStorageType {
		return nil, fmt.Errorf("storage type is a %s, want a torch storage type", typeName(typ))
	}
	n, ok := numel.(int64)
	if !ok || n < 0 {
		return nil, fmt.Errorf("bad element count %s", describeValue(numel))
	}
	loc, _ := location.(string)
	return &storageRef{key: key, dtype: g.dtype, numel: n, location: loc}, nil
}

func describePID(pid any) string {
	if t, ok := pid.(pyTuple); ok {
		return describeArgs(t)
	}
	return "of type " + typeName(pid)
}

// mulString writes n*m without overflow, for messages.
func mulString(n int64, m int) string {
	return new(big.Int).Mul(big.NewInt(n), big.NewInt(int64(m))).String()
}

// --- the legacy format ---

// legacyProtocol is the only protocol version torch's legacy writer ever
// used.
const legacyProtocol = 1001

func parseLegacy(name string, r io.ReaderAt, size int64) (*parsed, error) {
	// The pickles come first and the storages after them; how long the
	// pickles are is known only by running them, so a growing prefix of
	// the file is read until they fit. A state_dict's pickle is about a
	// hundred bytes a tensor, so the first read usually suffices.
	n := min(size, 1<<20)
	for {
		buf := make([]byte, n)
		if err := readFullAt(r, buf, 0); err != nil {
			return nil, fmt.Errorf("torchfile: %s: %w", name, err)
		}
		p, err := parseLegacyPickles(name, r, size, buf)
		var fe *FormatError
		if errors.As(err, &fe) && fe.eof && n < size {
			n = min(size, 4*n)
			continue
		}
		return p, err
	}
}

func parseLegacyPickles(name string, r io.ReaderAt, size int64, buf []byte) (*parsed, error) {
	pos := 0
	next := func(what string, load func(any) (any, error)) (any, error) {
		v, used, err := unpickle(name+": "+what, buf[pos:], load)
		pos += used
		return v, err
	}
	magic, err := next("magic number", nil)
	if err != nil {
		return nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, formatErrorf(name, "the first pickle is not the magic number of a legacy torch.save file")
	}
	proto, err := next("protocol version", nil)
	if err != nil {
		return nil, err
	}
	if proto != int64(legacyProtocol) {
		return nil, formatErrorf(name, "protocol version %s, want %d", describeValue(proto), legacyProtocol)
	}
	info, err := next("system info", nil)
	if err != nil {
		return nil, err
	}
	if d, ok := info.(*pyDict); ok {
		if le, ok := d.get("little_endian"); ok && le != true {
			return nil, formatErrorf(name, "written on a big-endian machine; only little-endian checkpoints are supported")
		}
	} else {
		return nil, formatErrorf(name, "system info is a %s, want a dict", typeName(info))
	}

	storages := map[string]*storageRef{}
	views := map[string]*storageRef{}
	load := func(pid any) (any, error) {
		t, ok := pid.(pyTuple)
		if ok && len(t) > 0 && t[0] == "module" {
			return nil, fmt.Errorf("the file holds a whole pickled model (with its source code); save model.state_dict() instead")
		}
		if !ok || len(t) != 6 || t[0] != "storage" {
			return nil, fmt.Errorf("persistent id %s is not ('storage', type, key, location, numel, view)", describePID(pid))
		}
		key, ok := t[2].(string)
		if !ok {
			return nil, fmt.Errorf("storage key of type %s", typeName(t[2]))
		}
		st, err := newStorage(t[1], key, t[3], t[4])
		if err != nil {
			return nil, fmt.Errorf("storage %q: %v", clip(key), err)
		}
		if old, ok := storages[key]; ok {
			if old.dtype != st.dtype || old.numel != st.numel {
				return nil, fmt.Errorf("storage %q is named as %s[%d] and as %s[%d]", clip(key), old.dtype.torch, old.numel, st.dtype.torch, st.numel)
			}
			st = old
		} else {
			storages[key] = st
		}
		if t[5] == nil {
			return st, nil
		}
		// A view (view_key, offset, size) into the root storage.
		v, ok := t[5].(pyTuple)
		if !ok || len(v) != 3 {
			return nil, fmt.Errorf("storage %q: view metadata is a %s, want (key, offset, size)", clip(key), typeName(t[5]))
		}
		vkey, ok1 := v[0].(string)
		off, ok2 := v[1].(int64)
		n, ok3 := v[2].(int64)
		if !ok1 || !ok2 || !ok3 || off < 0 || n < 0 || off > st.numel || n > st.numel-off {
			return nil, fmt.Errorf("storage %q: view %s does not lie within its %d elements", clip(key), describeArgs(v), st.numel)
		}
		if old, ok := views[vkey]; ok {
			if old.base != st || old.baseOffset != off || old.numel != n {
				return nil, fmt.Errorf("storage view %q is named twice with different extents", clip(vkey))
			}
			return old, nil
		}
		view := &storageRef{key: vkey, dtype: st.dtype, numel: n, location: st.location, base: st, baseOffset: off}
		views[vkey] = view
		return view, nil
	}
	root, err := next("object", load)
	if err != nil {
		return nil, err
	}
	keysV, err := next("storage keys", nil)
	if err != nil {
		return nil, err
	}
	keys, ok := keysV.(*pyList)
	if !ok {
		return nil, formatErrorf(name, "the storage key list is a %s", typeName(keysV))
	}
	// The storages follow, in the order of the key list: each an 8-byte
	// little-endian element count, then its bytes. Only the counts are
	// read here.
	at := int64(pos)
	offsets := map[*storageRef]int64{}
	p := &parsed{name: name, format: Legacy, root: root}
	for _, k := range keys.items {
		key, ok := k.(string)
		if !ok {
			return nil, formatErrorf(name, "a storage key of type %s in the key list", typeName(k))
		}
		st, ok := storages[key]
		if !ok {
			return nil, formatErrorf(name, "storage %q is in the key list but no tensor uses it", clip(key))
		}
		if _, dup := offsets[st]; dup {
			return nil, formatErrorf(name, "storage %q is listed twice", clip(key))
		}
		var cnt [8]byte
		if at > size-8 {
			return nil, formatErrorf(name, "the file ends at byte %d, before storage %q (truncated file?)", size, clip(key))
		}
		if err := readFullAt(r, cnt[:], at); err != nil {
			return nil, fmt.Errorf("torchfile: %s: reading storage %q: %w", name, clip(key), err)
		}
		n := int64(leUint64(cnt[:]))
		if n != st.numel {
			return nil, formatErrorf(name, "storage %q holds %d elements but its tensors were saved with %d (corrupt file)", clip(key), n, st.numel)
		}
		at += 8
		if uint64(n) > uint64(size-at)/uint64(st.dtype.size) {
			return nil, formatErrorf(name, "storage %q: %s bytes of %s at byte %d run past the end of the %d-byte file (truncated file?)", clip(key), mulString(n, st.dtype.size), st.dtype.torch, at, size)
		}
		offsets[st] = at
		at += n * int64(st.dtype.size)
		p.storageBytes += n * int64(st.dtype.size)
	}
	for key, st := range storages {
		if _, ok := offsets[st]; !ok {
			return nil, formatErrorf(name, "storage %q is used by a tensor but missing from the key list (corrupt file)", clip(key))
		}
	}
	if at != size {
		return nil, formatErrorf(name, "%d bytes after the last storage (bytes appended to the file?)", size-at)
	}
	p.readStorage = func(s *storageRef) ([]byte, error) {
		n := s.numel * int64(s.dtype.size) // within the file, checked above
		if uint64(n) > math.MaxInt {
			return nil, formatErrorf(name, "storage %q: %d bytes cannot be held in memory on this platform", clip(s.key), n)
		}
		b := make([]byte, n)
		if err := readFullAt(r, b, offsets[s]); err != nil {
			return nil, fmt.Errorf("torchfile: %s: reading storage %q: %w", name, clip(s.key), err)
		}
		return b, nil
	}
	return p, nil
}

// readFullAt reads len(b) bytes at off; a short read is an error even
// where the reader reports io.EOF with it.
func readFullAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func leUint64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// --- from the top-level object to tensors ---

// stateDictKeys are the top-level keys a state_dict is found under, in
// the order they are tried: Lightning and the classic training snapshots
// ("state_dict"), then what other trainers use.
var stateDictKeys = []string{"state_dict", "model_state_dict", "model", "net"}

// trainingKeys are top-level entries of training state that are not kept
// as metadata: optimizer and scheduler states (with tensors of their own),
// Lightning's callback and loop states.
var trainingKeys = map[string]bool{
	"optimizer_states": true, "lr_schedulers": true, "callbacks": true, "loops": true,
	"optimizer": true, "optimizer_state_dict": true, "scheduler": true, "scheduler_state_dict": true,
	"native_amp_scaling_state": true, "amp_scaling_state": true, "scaler": true,
}

// view is one distinct tensor view to materialize.
type view struct {
	ref   *tensorRef
	out   safetensors.DType
	numel int64
	// same is the index of an earlier identical view whose bytes this one
	// shares, or -1.
	same int
}

// header finds the state_dict, checks every tensor against its storage and
// collects the metadata.
func (p *parsed) header(opt *Options) (*Header, []view, error) {
	h := &Header{Name: p.name, Format: p.format, Metadata: map[string]string{"torch_format": p.format.String()}}
	top, isDict := p.root.(*pyDict)
	if !isDict {
		return nil, nil, formatErrorf(p.name, "the checkpoint holds a %s, not a state_dict or a dict holding one", typeName(p.root))
	}
	sd := top
	if !hasTensor(top) {
		sd = nil
		for _, k := range stateDictKeys {
			if v, ok := top.get(k); ok {
				if d, ok := v.(*pyDict); ok && hasTensor(d) {
					sd, h.StateDictKey = d, k
					break
				}
			}
		}
		if sd == nil {
			return nil, nil, formatErrorf(p.name, "no state_dict found: the checkpoint is a dict of %s without tensors, and none of %s holds a dict of tensors", describeKeys(top), strings.Join(stateDictKeys, ", "))
		}
		h.Metadata["torch_state_dict_key"] = h.StateDictKey
		p.collectMetadata(h, top)
	}

	var names []string
	var refs []*tensorRef
	var skipped []string
	for i, k := range sd.keys {
		key, ok := k.(string)
		if !ok {
			return nil, nil, formatErrorf(p.name, "the state_dict has a key of type %s (%s); keys must be strings", typeName(k), describeValue(k))
		}
		t, ok := sd.vals[i].(*tensorRef)
		if !ok {
			skipped = append(skipped, key)
			h.Notes = append(h.Notes, fmt.Sprintf("skipped %s: a %s, not a tensor", clip(key), typeName(sd.vals[i])))
			continue
		}
		if !isText(key) {
			return nil, nil, formatErrorf(p.name, "state_dict key %q is not valid UTF-8", clip(key))
		}
		if key == safetensors.MetadataKey {
			return nil, nil, formatErrorf(p.name, "state_dict key %q is reserved by safetensors", key)
		}
		names = append(names, key)
		refs = append(refs, t)
	}
	if len(skipped) > 0 {
		h.Metadata["torch_skipped_keys"] = strings.Join(skipped, ",")
	}
	const dp = "module."
	if len(names) > 0 {
		all := true
		for _, n := range names {
			all = all && strings.HasPrefix(n, dp) && len(n) > len(dp)
		}
		if all {
			for i := range names {
				names[i] = names[i][len(dp):]
			}
			h.StrippedPrefix = dp
			h.Metadata["torch_stripped_prefix"] = dp
			h.Notes = append(h.Notes, fmt.Sprintf("stripped the prefix %q (DataParallel) from all %d keys", dp, len(names)))
		}
	}

	var views []view
	var total int64
	seen := map[string]int{}
	converted := map[string]int{}
	for i, t := range refs {
		numel, err := checkView(t)
		if err != nil {
			return nil, nil, formatErrorf(p.name, "tensor %q: %v", clip(names[i]), err)
		}
		v := view{ref: t, out: outDType(t.storage.dtype, opt), numel: numel, same: -1}
		id := viewID(t)
		if j, ok := seen[id]; ok {
			v.same = j
		} else {
			seen[id] = i
			total += numel
			if total > p.storageBytes {
				return nil, nil, formatErrorf(p.name, "tensor %q: the state_dict's tensors hold %d elements, more than the file's storages hold bytes (%d); views repeating the same bytes are refused so that a small file cannot claim unbounded memory", clip(names[i]), total, p.storageBytes)
			}
		}
		views = append(views, v)
		shape := make([]int, len(t.shape))
		for j, d := range t.shape {
			shape[j] = int(d)
		}
		h.Tensors = append(h.Tensors, TensorInfo{Name: names[i], DType: v.out, Shape: shape, TorchDType: t.storage.dtype.torch})
		if d := t.storage.dtype.torch; d != "float32" && d != "int64" && !(d == "float64" && v.out == safetensors.F64) {
			converted[d+" to "+string(v.out)]++
		}
	}
	var conv []string
	for c, n := range converted {
		conv = append(conv, fmt.Sprintf("converted %d %s tensor(s)", n, c))
	}
	sort.Strings(conv)
	h.Notes = append(h.Notes, conv...)
	return h, views, nil
}

// collectMetadata keeps the top-level entries other than the state_dict
// and training state as strings: text as is, numbers and booleans in
// JSON, containers (hyper_parameters) as JSON.
func (p *parsed) collectMetadata(h *Header, top *pyDict) {
	var skipped []string
	for i, k := range top.keys {
		key, ok := k.(string)
		if !ok || key == h.StateDictKey || !isText(key) {
			continue
		}
		if trainingKeys[key] {
			skipped = append(skipped, key)
			continue
		}
		if _, taken := h.Metadata[key]; taken {
			continue
		}
		if s, ok := top.vals[i].(string); ok {
			h.Metadata[key] = s
			continue
		}
		js, err := renderJSON(top.vals[i])
		if err != nil {
			h.Notes = append(h.Notes, fmt.Sprintf("left out %s: %v", clip(key), err))
			continue
		}
		h.Metadata[key] = js
	}
	if len(skipped) > 0 {
		h.Metadata["torch_skipped"] = strings.Join(skipped, ",")
		h.Notes = append(h.Notes, "left out the training state "+strings.Join(skipped, ", "))
	}
}

// hasTensor reports whether one of d's values is a tensor.
func hasTensor(d *pyDict) bool {
	for _, v := range d.vals {
		if _, ok := v.(*tensorRef); ok {
			return true
		}
	}
	return false
}

// describeKeys lists a dict's first keys for a message.
func describeKeys(d *pyDict) string {
	var ks []string
	for i, k := range d.keys {
		if i == 8 {
			ks = append(ks, "...")
			break
		}
		ks = append(ks, describeValue(k))
	}
	return fmt.Sprintf("%d keys [%s]", len(d.keys), strings.Join(ks, ", "))
}

func isText(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// outDType is the dtype a storage's elements are returned as.
func outDType(d *dtypeInfo, opt *Options) safetensors.DType {
	switch d.torch {
	case "float32", "float16", "bfloat16":
		return safetensors.F32
	case "float64":
		if opt.KeepFloat64 {
			return safetensors.F64
		}
		return safetensors.F32
	}
	return safetensors.I64
}

// viewID identifies a view, so that tensors that are the same view of the
// same storage (tied weights) share their bytes.
func viewID(t *tensorRef) string {
	return fmt.Sprintf("%p/%d/%v/%v", t.storage, t.offset, t.shape, t.stride)
}

// checkView checks that t's shape, strides and offset stay inside its
// storage, with every product and sum checked for overflow, and returns
// its element count.
func checkView(t *tensorRef) (int64, error) {
	limit := t.storage.numel
	numel := uint64(1)
	for _, d := range t.shape {
		if d > math.MaxInt32 {
			return 0, fmt.Errorf("shape %v has an absurd dimension", t.shape)
		}
		hi, lo := bits.Mul64(numel, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("shape %v has more elements than any file holds (the product overflows)", t.shape)
		}
		numel = lo
	}
	if numel == 0 {
		return 0, nil
	}
	last := uint64(t.offset)
	for i, d := range t.shape {
		hi, step := bits.Mul64(uint64(d-1), uint64(t.stride[i]))
		var carry uint64
		last, carry = bits.Add64(last, step, 0)
		if hi != 0 || carry != 0 || last > math.MaxInt64 {
			return 0, fmt.Errorf("shape %v with stride %v reaches beyond any storage (the offset overflows)", t.shape, t.stride)
		}
	}
	if last >= uint64(limit) {
		return 0, fmt.Errorf("shape %v with stride %v from offset %d needs %d elements of its storage, which holds %d (a storage shorter than its tensor: truncated or corrupt file)",
			t.shape, t.stride, t.offset, last+1, limit)
	}
	return int64(numel), nil
}

// materialize reads the storages the views use and copies each view out,
// contiguous and converted.
func (p *parsed) materialize(h *Header, views []view) ([]safetensors.Tensor, error) {
	cache := map[*storageRef][]byte{}
	out := make([]safetensors.Tensor, len(views))
	for i, v := range views {
		ti := h.Tensors[i]
		out[i] = safetensors.Tensor{Name: ti.Name, DType: ti.DType, Shape: ti.Shape}
		if v.same >= 0 {
			out[i].Data = out[v.same].Data
			continue
		}
		root, base := v.ref.storage, int64(0)
		if root.base != nil {
			root, base = root.base, root.baseOffset
		}
		if uint64(v.numel)*uint64(ti.DType.Size()) > math.MaxInt {
			return nil, formatErrorf(p.name, "tensor %q: %d elements cannot be held in memory on this platform", clip(ti.Name), v.numel)
		}
		src, ok := cache[root]
		if !ok && v.numel > 0 {
			var err error
			if src, err = p.readStorage(root); err != nil {
				return nil, err
			}
			cache[root] = src
		}
		out[i].Data = gather(src, root.dtype, base+v.ref.offset, v.ref.shape, v.ref.stride, v.numel, ti.DType)
	}
	return out, nil
}
