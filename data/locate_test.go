package data

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestLocateAgreesWithOpen: for every named dataset and split, Locate
// finds exactly the files Open reads, and where those are missing it
// returns the MissingError Open returns (same file, folder and URL), on an
// empty folder, on a tiny synthetic MNIST and, where ../shared/data is
// present, on the real files.
func TestLocateAgreesWithOpen(t *testing.T) {
	empty := t.TempDir()
	tiny := t.TempDir()
	writeFiles(t, filepath.Join(tiny, "mnist"), mnistFiles())
	dirs := []string{empty, tiny}
	if real := filepath.Join("..", "..", "shared", "data"); dirExists(real) {
		dirs = append(dirs, real)
	}
	opened := 0
	for _, dir := range dirs {
		for _, name := range Names {
			for _, split := range []Split{Train, Test} {
				files, lerr := Locate(name, split, Options{Dir: dir})
				set, oerr := Open(name, split, Options{Dir: dir})
				var lme, ome *MissingError
				switch {
				case errors.As(oerr, &ome):
					if !errors.As(lerr, &lme) || lme.File != ome.File || lme.Folder != ome.Folder || lme.URL != ome.URL {
						t.Errorf("%s %s in %s: Locate gave %v, %v; Open %v", name, split, dir, files, lerr, oerr)
					}
				case lerr != nil:
					t.Errorf("%s %s in %s: Locate failed (%v) where Open gave %v", name, split, dir, lerr, oerr)
				case oerr == nil:
					opened++
					if !reflect.DeepEqual(files, set.Files) {
						t.Errorf("%s %s in %s: Locate found %q, Open read %q", name, split, dir, files, set.Files)
					}
				}
			}
		}
	}
	if opened == 0 {
		t.Fatal("no dataset opened: the test compared no file lists")
	}
	if _, err := Locate("mnsit", Train, Options{Dir: empty}); err == nil {
		t.Error("Locate accepted an unknown dataset name")
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
