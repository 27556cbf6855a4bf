package cuda

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmdls-go/vmdls/internal/atomicfile"
)

// NVRTC takes several seconds to compile the kernels, and every process
// that touches the GPU needs them: each `vmdls train --gpus 0,` would start
// with that wait. The compiled CUBIN therefore goes to a cache directory,
// under a key that covers everything it depends on (the source, the
// compiler's options, the NVRTC and driver versions), and later processes
// load it. The cache is an optimization only: a missing, unreadable or
// rejected file means compiling, and a failed write is ignored.

// EnvCUDACache names the environment variable that sets the CUBIN cache's
// directory; "off" disables the cache. Unset, it is vmdls/cuda under the
// user's cache directory (os.UserCacheDir, e.g. ~/.cache).
const EnvCUDACache = "VMDLS_CUDA_CACHE"

// cubinCache is a directory of compiled modules; the zero value (dir "")
// caches nothing.
type cubinCache struct{ dir string }

// defaultCubinCache is the cache EnvCUDACache selects.
func defaultCubinCache() cubinCache {
	switch v := os.Getenv(EnvCUDACache); v {
	case "off":
		return cubinCache{}
	case "":
		d, err := os.UserCacheDir()
		if err != nil {
			return cubinCache{}
		}
		return cubinCache{dir: filepath.Join(d, "vmdls", "cuda")}
	default:
		return cubinCache{dir: v}
	}
}

// cubinKey names the module compiled from src with opts by NVRTC nvrtc for
// a driver of version driver.
func cubinKey(src string, opts []string, nvrtc [2]int, driver int) string {
	h := sha256.New()
	fmt.Fprintf(h, "vmdls cubin v1\x00nvrtc %d.%d\x00driver %d\x00%s\x00", nvrtc[0], nvrtc[1], driver, strings.Join(opts, "\x00"))
	io.WriteString(h, src)
	return hex.EncodeToString(h.Sum(nil))
}

func (c cubinCache) path(key string) string { return filepath.Join(c.dir, key+".cubin") }

// load returns the cached module of key, if there is one.
func (c cubinCache) load(key string) ([]byte, bool) {
	if c.dir == "" {
		return nil, false
	}
	b, err := os.ReadFile(c.path(key))
	if err != nil || len(b) == 0 {
		return nil, false
	}
	return b, true
}

// store writes the module of key, whole or not at all, so that a process
// that stops mid-write leaves no truncated CUBIN for the next one.
func (c cubinCache) store(key string, cubin []byte) error {
	if c.dir == "" {
		return nil
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	f, err := atomicfile.Create(c.path(key))
	if err != nil {
		return err
	}
	if _, err := f.Write(cubin); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// cachedModule returns a loaded module: the cached CUBIN of key if load
// accepts it, else a fresh compile, which is then stored. fromCache says
// which happened.
func cachedModule[M any](c cubinCache, key string, compile func() ([]byte, error), load func([]byte) (M, error)) (m M, fromCache bool, err error) {
	if b, ok := c.load(key); ok {
		if m, err := load(b); err == nil {
			return m, true, nil
		}
	}
	b, err := compile()
	if err != nil {
		return m, false, err
	}
	if m, err = load(b); err != nil {
		return m, false, err
	}
	_ = c.store(key, b) // best effort: the next process compiles again
	return m, false, nil
}
