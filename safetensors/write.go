package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"syscall"
)

// Encode writes tensors and metadata in safetensors form to w. The header
// lists the tensors in the given order; the data section stores the 8-byte
// element types first and pads the header with spaces to a multiple of 8, so
// every tensor's data is aligned to its element size (what readers that map
// the file expect). Metadata keys are written sorted, so equal inputs give
// identical files.
func Encode(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header, err := encodeHeader(tensors, metadata)
	if err != nil {
		return err
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	for _, i := range dataOrder(tensors) {
		if _, err := w.Write(tensors[i].Data); err != nil {
			return err
		}
	}
	return nil
}

// dataOrder is the order of the tensors' data: 8-byte types before 4-byte
// ones, otherwise as given.
func dataOrder(tensors []Tensor) []int {
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return tensors[order[a]].DType.Size() > tensors[order[b]].DType.Size()
	})
	return order
}

func encodeHeader(tensors []Tensor, metadata map[string]string) ([]byte, error) {
	offsets := make([][2]int, len(tensors))
	pos := 0
	for _, i := range dataOrder(tensors) {
		t := tensors[i]
		if t.DType.Size() == 0 {
			return nil, fmt.Errorf("safetensors: tensor %q: unsupported dtype %q", t.Name, t.DType)
		}
		for _, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", t.Name, t.Shape)
			}
		}
		if want := t.Numel() * t.DType.Size(); len(t.Data) != want {
			return nil, fmt.Errorf("safetensors: tensor %q: %d data bytes, shape %v of %s needs %d", t.Name, len(t.Data), t.Shape, t.DType, want)
		}
		offsets[i] = [2]int{pos, pos + len(t.Data)}
		pos += len(t.Data)
	}
	var h bytes.Buffer
	h.WriteByte('{')
	seen := map[string]bool{}
	first := true
	put := func(key string, value any) error {
		k, _ := json.Marshal(key)
		v, err := json.Marshal(value)
		if err != nil {
			return err
		}
		if !first {
			h.WriteByte(',')
		}
		first = false
		h.Write(k)
		h.WriteByte(':')
		h.Write(v)
		return nil
	}
	if len(metadata) > 0 {
		// encoding/json writes map keys sorted.
		if err := put(MetadataKey, metadata); err != nil {
			return nil, err
		}
	}
	for i, t := range tensors {
		if t.Name == MetadataKey {
			return nil, fmt.Errorf("safetensors: %q is reserved and cannot name a tensor", MetadataKey)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("safetensors: tensor %q given twice", t.Name)
		}
		seen[t.Name] = true
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		entry := struct {
			DType       DType  `json:"dtype"`
			Shape       []int  `json:"shape"`
			DataOffsets [2]int `json:"data_offsets"`
		}{t.DType, shape, offsets[i]}
		if err := put(t.Name, entry); err != nil {
			return nil, err
		}
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	return h.Bytes(), nil
}

// WriteFile writes tensors and metadata to path atomically: the data goes to
// a temporary file in the same directory, which is synced, renamed over path
// and followed by a sync of the directory, so that a crash leaves either the
// old file or the complete new one, never a torn mix.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) (err error) {
	// Validate before touching the file system.
	if _, err := encodeHeader(tensors, metadata); err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := Encode(bw, tensors, metadata); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", tmp.Name(), err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("safetensors: syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("safetensors: closing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. File systems and platforms that
// cannot sync a directory (EINVAL, Windows) have nothing more to offer, so
// that is not an error.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for syncing there
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("safetensors: opening %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("safetensors: syncing directory %s: %w", dir, err)
	}
	return nil
}
