package data

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/vmdls-go/vmdls/internal/regularfile"
)

// Limits on what an archive may make this package read: a member larger
// than MaxEntryBytes, or archives whose members add up to more than
// MaxArchiveBytes, are errors. Zip and tar members declare their sizes, so
// both limits are checked against the declarations before anything is read
// (and archive/zip and archive/tar hold a member to its declared size while
// it is read).
var (
	MaxEntryBytes   int64 = 256 << 20
	MaxArchiveBytes int64 = 8 << 30
)

// maxDeflateRatio is the most deflate (zip's and gzip's compression) can
// expand: a 258-byte match in 2 bits is 1032 output bytes per input byte.
// A compressed stream of n bytes announcing more than maxDeflateRatio*n
// (plus deflateSlack for the bits of the last byte) is lying, which lets a
// reader refuse it before reading, let alone allocating.
const (
	maxDeflateRatio = 1032
	deflateSlack    = 1 << 12
)

// maxImageExpansion bounds how far the images a compressed archive holds
// may expand. PNG and JPEG are compressed already, so a zip or tar.gz of
// real images is barely smaller than the images it holds, while zeros
// behind image headers compress about a thousand times: 4 x 250 MiB of
// them, each a valid PNG header, fit in a 1 MB zip that would otherwise be
// read and held whole. Image folders (OpenFolder) refuse an archive whose
// images declare more than maxImageExpansion times its size plus
// imageExpansionSlack, from the declared sizes, before reading any image.
const (
	maxImageExpansion   = 16
	imageExpansionSlack = 16 << 20
)

// maxInflated returns the most a deflate stream of n compressed bytes can
// expand to, saturating instead of overflowing.
func maxInflated(n int64) int64 {
	if n < 0 {
		return 0
	}
	if n > (math.MaxInt64-deflateSlack)/maxDeflateRatio {
		return math.MaxInt64
	}
	return n*maxDeflateRatio + deflateSlack
}

// openRegular opens path for reading if it is a regular file (see
// regularfile.Open: a FIFO or a device is refused before it can block),
// returning it with its stat.
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	f, st, err := regularfile.Open(path)
	var re *regularfile.Error
	switch {
	case errors.As(err, &re) && !re.Replaced:
		return nil, nil, notRegular(path, re.Mode)
	case errors.As(err, &re):
		return nil, nil, formatErr(path, "%s", re.Problem())
	}
	return f, st, err
}

// notRegular is the error for a data path that is not a regular file.
func notRegular(path string, m fs.FileMode) error {
	return formatErr(path, "not a regular file (%s); want a data file", regularfile.Kind(m))
}

// readSized reads exactly size bytes of r into a new slice of that length
// and capacity, returning it with n = size, or a nil slice and the number
// of bytes r held when it ended early. Until an eighth of size has arrived
// the data is collected in chunks of at most 1 MiB; only then is the exact
// buffer allocated and the rest read straight into it. So a header
// announcing more than r holds costs at most nine times what r does hold
// (the chunks, then a buffer at most eight times as large), never the
// announced size, and a true one costs 1.125 times size in all, the chunks
// being the only garbage (bytes.Buffer's doubling has up to 3 times size
// live at its last copy and keeps up to twice size). After size bytes it
// reads one more: more reports data past the announced end, and a
// checksumming reader (gzip, a zip member) verifies its trailer.
func readSized(r io.Reader, size int64) (b []byte, n int64, more bool, err error) {
	if size < 0 || size > math.MaxInt {
		return nil, 0, false, fmt.Errorf("size %d is out of range", size)
	}
	const chunk = 1 << 20
	var chunks [][]byte
	if size > chunk {
		for n < size/8 {
			c := make([]byte, min(chunk, size/8-n))
			k, err := fill(r, c)
			n += int64(k)
			if err == io.EOF {
				return nil, n, false, nil
			}
			if err != nil {
				return nil, n, false, err
			}
			chunks = append(chunks, c)
		}
	}
	b = make([]byte, size)
	off := 0
	for _, c := range chunks {
		off += copy(b[off:], c)
	}
	chunks = nil
	k, err := fill(r, b[off:])
	n += int64(k)
	if err == io.EOF {
		return nil, n, false, nil
	}
	if err != nil {
		return nil, n, false, err
	}
	var one [1]byte
	for {
		k, err := r.Read(one[:])
		if k > 0 {
			return b, n, true, nil
		}
		if err == io.EOF {
			return b, n, false, nil
		}
		if err != nil {
			return b, n, false, err
		}
	}
}

// fill reads r into all of p. Unlike io.ReadFull it passes r's own errors
// through unchanged (a truncated gzip stream's io.ErrUnexpectedEOF stays
// distinguishable) and reports a clean end of r as io.EOF with the count.
func fill(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := r.Read(p[n:])
		n += k
		if err == io.EOF {
			if n == len(p) {
				return n, nil
			}
			return n, io.EOF
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// isCorruptStream reports whether err is what a truncated or damaged
// compressed stream (gzip or a zip member) gives.
func isCorruptStream(err error) bool {
	var ce flate.CorruptInputError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) ||
		errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) || errors.As(err, &ce)
}

// checkZipSizes refuses a zip entry whose declared sizes cannot be true of
// an archive of archiveSize bytes: compressed data larger than the archive,
// a stored entry whose two sizes differ, or a deflated one announcing more
// than deflate can expand to. What passes is what archive/zip then holds
// the entry to while reading it, so a reader may trust the declared
// uncompressed size as a bound on what it will get.
func checkZipSizes(f *zip.File, archiveSize int64, member string) error {
	if f.CompressedSize64 > uint64(max(archiveSize, 0)) {
		return formatErr(member, "entry declares %d compressed bytes in a %d-byte archive", f.CompressedSize64, archiveSize)
	}
	switch f.Method {
	case zip.Store:
		if f.UncompressedSize64 != f.CompressedSize64 {
			return formatErr(member, "stored (uncompressed) entry declares %d bytes but occupies %d", f.UncompressedSize64, f.CompressedSize64)
		}
	case zip.Deflate:
		if f.UncompressedSize64 > uint64(maxInflated(int64(f.CompressedSize64))) {
			return formatErr(member, "entry declares %d bytes, more than its %d compressed bytes can expand to", f.UncompressedSize64, f.CompressedSize64)
		}
	}
	return nil
}

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
// Members are read one at a time: the data passed to fn is a new slice of
// exactly the member's size that fn may keep, and nothing else of the
// archive is held while fn runs. A p, or a selected file of a folder, that
// is not a regular file (a FIFO, a device, a socket) is an error naming it,
// not a read that blocks; symbolic links inside a folder are skipped.
func WalkArchive(p string, keep func(name string) bool, fn func(name string, data []byte) error) error {
	return walkArchive(p, 0, keep, fn)
}

// walkArchive is WalkArchive. With expansion > 0, the members a zip or a
// tar.gz holds that keep selects may declare at most expansion times the
// archive's size plus imageExpansionSlack in all, which is checked before
// each is read (for a zip, before any is).
func walkArchive(p string, expansion int64, keep func(name string) bool, fn func(name string, data []byte) error) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return walkDir(p, keep, fn)
	}
	f, st, err := openRegular(p)
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
		return walkZip(f, st.Size(), p, expansion, keep, fn)
	}
	return walkTarStream(f, st.Size(), p, expansion, keep, fn)
}

// expansionBound returns what an archive of size bytes may expand to under
// expansion (see walkArchive), saturating instead of overflowing.
func expansionBound(size, expansion int64) int64 {
	if size > (math.MaxInt64-imageExpansionSlack)/expansion {
		return math.MaxInt64
	}
	return size*expansion + imageExpansionSlack
}

// WalkZip walks a zip archive held in r (size bytes) like WalkArchive.
func WalkZip(r io.ReaderAt, size int64, name string, keep func(string) bool, fn func(string, []byte) error) error {
	return walkZip(r, size, name, 0, keep, fn)
}

// WalkTar walks a tar stream, gzipped or not, like WalkArchive. The stream's
// length is not known here, so member sizes are checked against the limits
// only (WalkArchive also checks them against the file's size).
func WalkTar(r io.Reader, name string, keep func(string) bool, fn func(string, []byte) error) error {
	return walkTarStream(r, -1, name, 0, keep, fn)
}

func walkDir(root string, keep func(string) bool, fn func(string, []byte) error) error {
	var total int64
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
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
		// A FIFO or device with a data file's name is refused by name
		// rather than skipped: skipping would make a missing-file error
		// elsewhere, and reading it would block or never end.
		if !d.Type().IsRegular() {
			return notRegular(p, d.Type())
		}
		f, info, err := openRegular(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if info.Size() > MaxEntryBytes {
			return formatErr(p, "file of %d bytes is over the %d-byte limit", info.Size(), MaxEntryBytes)
		}
		if total += info.Size(); total > MaxArchiveBytes {
			return formatErr(root, "folder holds more than %d bytes", MaxArchiveBytes)
		}
		b, n, more, err := readSized(f, info.Size())
		if err != nil {
			return wrapErr(p, "reading file", err)
		}
		if more || n != info.Size() {
			return formatErr(p, "file changed size while being read")
		}
		return fn(rel, b)
	})
}

func walkZip(r io.ReaderAt, size int64, name string, expansion int64, keep func(string) bool, fn func(string, []byte) error) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return wrapErr(name, "not a readable zip archive", err)
	}
	// The central directory declares every size up front: check them all
	// before reading any entry, so an archive past the limits costs nothing.
	type entry struct {
		f     *zip.File
		clean string
	}
	var selected []entry
	var total uint64
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
		if f.UncompressedSize64 > uint64(max(MaxEntryBytes, 0)) {
			return formatErr(member, "entry expands to %d bytes, over the %d-byte limit", f.UncompressedSize64, MaxEntryBytes)
		}
		if err := checkZipSizes(f, size, member); err != nil {
			return err
		}
		if total += f.UncompressedSize64; total > uint64(max(MaxArchiveBytes, 0)) {
			return formatErr(name, "archive expands to more than %d bytes", MaxArchiveBytes)
		}
		if expansion > 0 && total > uint64(expansionBound(size, expansion)) {
			return formatErr(member, "images declared up to here add up to %d bytes, more than %d times the %d-byte archive: images do not compress that far", total, expansion, size)
		}
		selected = append(selected, entry{f, clean})
	}
	for _, e := range selected {
		member := name + ":" + e.clean
		rc, err := e.f.Open()
		if err != nil {
			return wrapErr(member, "cannot open zip entry", err)
		}
		b, err := readEntry(rc, member, int64(e.f.UncompressedSize64))
		rc.Close()
		if err != nil {
			return err
		}
		if err := fn(e.clean, b); err != nil {
			return err
		}
	}
	return nil
}

// walkTarStream walks a tar stream of srcSize bytes (-1: unknown), which
// bounds what its members can hold: srcSize itself, or what deflate can
// expand srcSize bytes to when the stream is gzipped (with expansion > 0,
// expansionBound of srcSize where that is less; see walkArchive).
func walkTarStream(r io.Reader, srcSize int64, name string, expansion int64, keep func(string) bool, fn func(string, []byte) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var src io.Reader = br
	bound, what := int64(math.MaxInt64), ""
	if srcSize >= 0 {
		bound, what = srcSize, fmt.Sprintf("truncated tar: more than the %d-byte file holds", srcSize)
	}
	if m, err := br.Peek(2); err == nil && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return wrapErr(name, "bad gzip header", err)
		}
		defer zr.Close()
		src = zr
		if srcSize >= 0 {
			bound, what = maxInflated(srcSize), fmt.Sprintf("more than a %d-byte tar.gz can expand to", srcSize)
			if expansion > 0 && expansionBound(srcSize, expansion) < bound {
				bound = expansionBound(srcSize, expansion)
				what = fmt.Sprintf("more than %d times the %d-byte tar.gz with the images before it: images do not compress that far", expansion, srcSize)
			}
		}
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
		// The members selected so far and this one must all fit in what
		// the stream can hold.
		if hdr.Size > bound-total {
			return formatErr(member, "entry declares %d bytes, %s", hdr.Size, what)
		}
		if total += hdr.Size; total > MaxArchiveBytes {
			return formatErr(name, "archive expands to more than %d bytes", MaxArchiveBytes)
		}
		b, err := readEntry(tr, member, hdr.Size)
		if err != nil {
			return err
		}
		if err := fn(clean, b); err != nil {
			return err
		}
	}
}

// readEntry reads an archive member that declares size bytes (the archive
// reader holds it to that size), into a slice of exactly that size.
func readEntry(r io.Reader, member string, size int64) ([]byte, error) {
	b, n, more, err := readSized(r, size)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, wrapErr(member, "truncated archive entry", err)
	case err != nil:
		return nil, wrapErr(member, "corrupt archive entry", err)
	case n < size:
		return nil, formatErr(member, "truncated archive entry: %d of its %d bytes", n, size)
	case more:
		return nil, formatErr(member, "archive entry runs past its declared %d bytes", size)
	}
	return b, nil
}
