package ovd

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/vmdls-go/vmdls/internal/regularfile"
	"github.com/vmdls-go/vmdls/safetensors"
)

// A run owns the files it writes in its output folder, and only those: it
// never takes a path from a file it reads, and it deletes only what it can
// show it wrote.

// mkdirOwned makes dir and its missing parents and returns the folders it
// created, deepest first, so that a run that fails early can remove them.
func mkdirOwned(dir string) ([]string, error) {
	var made []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		made = append(made, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return made, nil
}

// tempFile matches the temporary files of the atomic writers
// (safetensors: ".NAME.tmp-DIGITS", report: ".NAME.DIGITS.tmp"), which a
// crash or kill -9 between create and rename leaves behind.
var tempFile = regexp.MustCompile(`^\.[^/]+\.(tmp-[0-9]+|[0-9]+\.tmp)$`)

// removeTempFiles deletes the atomic writers' leftover temporary files in
// dir: only regular files, only the writers' name pattern.
func removeTempFiles(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.Type().IsRegular() && tempFile.MatchString(e.Name()) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// newRunID returns a random identifier for a training run.
func newRunID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// checkRegularFile refuses a path that exists but is not a regular file:
// opening a FIFO for reading blocks until a writer comes, forever.
func checkRegularFile(path string) error { return regularfile.Check(path) }

// removeOwned deletes dir/name if it is a regular file (not a link) whose
// training state says it was written by run runID after epoch epoch
// (0-based: its state holds epoch+1 completed epochs). It reads only the
// header. Anything else is left alone: a resumed run must not delete a
// file it did not write, whatever the checkpoint it resumed from says.
func removeOwned(dir, name, runID string, epoch int) {
	if runID == "" || strings.ContainsAny(name, `/\`) {
		return
	}
	path := filepath.Join(dir, name)
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() {
		return
	}
	h, err := safetensors.ReadHeader(path)
	if err != nil {
		return
	}
	var rec struct {
		RunID string `json:"run_id"`
		Epoch int    `json:"epoch"`
	}
	if json.Unmarshal([]byte(h.Metadata[metaState]), &rec) != nil || rec.RunID != runID || rec.Epoch != epoch+1 {
		return
	}
	os.Remove(path)
}

// removeStaleInterrupted deletes dir/interrupted.safetensors once a run
// has saved epoch done (the number of completed epochs) past it: only a
// regular file that run runID wrote during an epoch before done.
func removeStaleInterrupted(dir, runID string, done int) {
	path := filepath.Join(dir, "interrupted.safetensors")
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() {
		return
	}
	h, err := safetensors.ReadHeader(path)
	if err != nil || h.Metadata[metaRunID] != runID {
		return
	}
	var e int
	if _, err := fmt.Sscan(h.Metadata[metaInterrupted], &e); err != nil || e >= done {
		return
	}
	os.Remove(path)
}
