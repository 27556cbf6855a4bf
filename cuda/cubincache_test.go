package cuda

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCubinKeyCoversItsInputs(t *testing.T) {
	base := cubinKey("src", []string{"--gpu-architecture=sm_90"}, [2]int{13, 0}, 13000)
	for _, k := range []string{
		cubinKey("src2", []string{"--gpu-architecture=sm_90"}, [2]int{13, 0}, 13000),
		cubinKey("src", []string{"--gpu-architecture=sm_80"}, [2]int{13, 0}, 13000),
		cubinKey("src", []string{"--gpu-architecture=sm_90"}, [2]int{12, 8}, 13000),
		cubinKey("src", []string{"--gpu-architecture=sm_90"}, [2]int{13, 0}, 12080),
	} {
		if k == base {
			t.Fatal("a different input gave the same key")
		}
	}
	if base != cubinKey("src", []string{"--gpu-architecture=sm_90"}, [2]int{13, 0}, 13000) {
		t.Fatal("the key is not deterministic")
	}
}

// TestCachedModule follows a module through the cache: compiled and stored
// on a miss, loaded without compiling on a hit, compiled again when the
// cached file is rejected, and never cached when the cache is off.
func TestCachedModule(t *testing.T) {
	c := cubinCache{dir: filepath.Join(t.TempDir(), "cuda")}
	compiles := 0
	compile := func() ([]byte, error) { compiles++; return []byte("CUBIN"), nil }
	load := func(b []byte) (string, error) {
		if string(b) != "CUBIN" {
			return "", errors.New("rejected")
		}
		return "module", nil
	}
	for i, wantCache := range []bool{false, true} {
		m, hit, err := cachedModule(c, "k", compile, load)
		if err != nil || m != "module" || hit != wantCache || compiles != 1 {
			t.Fatalf("call %d: %q, from cache %v, %v, %d compiles", i, m, hit, err, compiles)
		}
	}
	if err := os.WriteFile(c.path("k"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, hit, err := cachedModule(c, "k", compile, load); err != nil || hit || compiles != 2 {
		t.Fatalf("a rejected file: from cache %v, %v, %d compiles", hit, err, compiles)
	}
	if b, ok := c.load("k"); !ok || string(b) != "CUBIN" {
		t.Fatalf("the recompiled module was not stored over the rejected one: %q", b)
	}
	off := cubinCache{}
	for range 2 {
		if _, hit, _ := cachedModule(off, "k", compile, load); hit {
			t.Fatal("the disabled cache served a module")
		}
	}
	if compiles != 4 {
		t.Fatalf("%d compiles with the cache off, want 2 more", compiles-2)
	}
	wantErr := errors.New("nvrtc failed")
	if _, _, err := cachedModule(cubinCache{dir: t.TempDir()}, "k", func() ([]byte, error) { return nil, wantErr }, load); !errors.Is(err, wantErr) {
		t.Fatalf("a failed compile gave %v", err)
	}
}

func TestDefaultCubinCache(t *testing.T) {
	t.Setenv(EnvCUDACache, "off")
	if defaultCubinCache().dir != "" {
		t.Fatal("off did not disable the cache")
	}
	t.Setenv(EnvCUDACache, "/some/dir")
	if defaultCubinCache().dir != "/some/dir" {
		t.Fatal("the variable's directory was not used")
	}
}
