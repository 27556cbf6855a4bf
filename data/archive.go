package data

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Limits on what an archive may make this package read: a member larger
// than MaxEntryBytes, or archives whose members add up to more than
// MaxArchiveBytes, are errors (a compressed member that expands absurdly is
// stopped when it passes the limit, before it is all in memory).
var (
	MaxEntryBytes   int64 = 256 << 20
	MaxArchiveBytes int64 = 8 << 30
)

// cleanEntryName turns an archive member name into a clean slash path
// relative to the archive root, or reports one that would climb out of it.
func cleanEntryName(name string) (string, error) {
	n := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(n, "/") || (len(n) >= 2 && n[1] == ':') {
		return "", fmt.Errorf("entry %q has an absolute path", name)
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", fmt.Errorf("entry %q climbs out of the target folder", name)
		}
	}
	n = path.Clean(n)
	if n == "." {
		return "", nil
	}
	return n, nil
}

// WalkArchive calls fn with the name and contents of every regular file in
// the archive at p: a directory (walked in lexical order), a zip (or .npz),
// or a tar, gzipped or not (detected from the content, not the name).
// Names are clean slash paths relative to the archive root. keep, when not
// nil, selects by name the files whose contents are read; the others are
// skipped without reading. A member name that climbs out of the root, or one
// past the size limits, is an error naming the archive and the member.
func WalkArchive(p string, keep func(name string) bool, fn func(name string, data []byte) error) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return walkDir(p, keep, fn)
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if n == 4 && string(magic[:]) == "PK\x03\x04" || n == 4 && string(magic[:]) == "PK\x05\x06" {
		return walkZip(f, st.Size(), p, keep, fn)
	}
	return walkTarStream(f, p, keep, fn)
}

// WalkZip walks a zip archive held in r (size bytes) like WalkArchive.
func WalkZip(r io.ReaderAt, size int64, name string, keep func(string) bool, fn func(string, []byte) error) error {
	return walkZip(r, size, name, keep, fn)
}

// WalkTar walks a tar stream, gzipped or not, like WalkArchive.
func WalkTar(r io.Reader, name string, keep func(string) bool, fn func(string, []byte) error) error {
	return walkTarStream(r, name, keep, fn)
}

func walkDir(root string, keep func(string) bool, fn func(string, []byte) error) error {
	var total int64
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if keep != nil && !keep(rel) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > MaxEntryBytes {
			return formatErr(p, "file of %d bytes is over the %d-byte limit", info.Size(), MaxEntryBytes)
		}
		if total += info.Size(); total > MaxArchiveBytes {
			return formatErr(root, "folder holds more than %d bytes", MaxArchiveBytes)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return fn(rel, b)
	})
}

func walkZip(r io.ReaderAt, size int64, name string, keep func(string) bool, fn func(string, []byte) error) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return wrapErr(name, "not a readable zip archive", err)
	}
	var total int64
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || !f.Mode().IsRegular() {
			continue
		}
		clean, err := cleanEntryName(f.Name)
		if err != nil {
			return wrapErr(name, "bad zip entry", err)
		}
		if clean == "" || (keep != nil && !keep(clean)) {
			continue
		}
		member := name + ":" + clean
		if f.UncompressedSize64 > uint64(MaxEntryBytes) {
			return formatErr(member, "entry expands to %d bytes, over the %d-byte limit", f.UncompressedSize64, MaxEntryBytes)
		}
		rc, err := f.Open()
		if err != nil {
			return wrapErr(member, "cannot open zip entry", err)
		}
		b, err := readLimited(rc, member, MaxEntryBytes)
		rc.Close()
		if err != nil {
			return err
		}
		if total += int64(len(b)); total > MaxArchiveBytes {
			return formatErr(name, "archive expands to more than %d bytes", MaxArchiveBytes)
		}
		if err := fn(clean, b); err != nil {
			return err
		}
	}
	return nil
}

func walkTarStream(r io.Reader, name string, keep func(string) bool, fn func(string, []byte) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var src io.Reader = br
	if m, err := br.Peek(2); err == nil && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return wrapErr(name, "bad gzip header", err)
		}
		defer zr.Close()
		src = zr
	}
	tr := tar.NewReader(src)
	var total int64
	for first := true; ; first = false {
		hdr, err := tr.Next()
		if err == io.EOF {
			if first {
				return formatErr(name, "empty or not a tar archive")
			}
			return nil
		}
		if err != nil {
			return wrapErr(name, "not a readable tar archive", err)
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		clean, err := cleanEntryName(hdr.Name)
		if err != nil {
			return wrapErr(name, "bad tar entry", err)
		}
		if clean == "" || (keep != nil && !keep(clean)) {
			continue
		}
		member := name + ":" + clean
		if hdr.Size > MaxEntryBytes {
			return formatErr(member, "entry of %d bytes is over the %d-byte limit", hdr.Size, MaxEntryBytes)
		}
		b, err := readLimited(tr, member, MaxEntryBytes)
		if err != nil {
			return err
		}
		if total += int64(len(b)); total > MaxArchiveBytes {
			return formatErr(name, "archive expands to more than %d bytes", MaxArchiveBytes)
		}
		if err := fn(clean, b); err != nil {
			return err
		}
	}
}

// readLimited reads all of r, failing once more than limit bytes arrive.
func readLimited(r io.Reader, name string, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, wrapErr(name, "truncated archive entry", err)
		}
		return nil, wrapErr(name, "corrupt archive entry", err)
	}
	if n > limit {
		return nil, formatErr(name, "entry expands past the %d-byte limit", limit)
	}
	return buf.Bytes(), nil
}
