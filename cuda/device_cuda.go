//go:build cuda

package cuda

import (
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"unsafe"

	gblas "gonum.org/v1/gonum/blas"
	"gorgonia.org/cu"
	cublas "gorgonia.org/cu/blas"
)

// gpu owns one device's CUDA context. A CUDA context is current on one OS
// thread, so every driver and cuBLAS call runs on one goroutine locked to
// its thread; the backend's methods, called from any goroutine, hand it
// closures through work. All work goes to the legacy default stream: one
// stream orders every kernel, copy and cuBLAS call (cu/blas has no way to
// set a cuBLAS stream), which is also what makes the caching allocator's
// reuse of freed blocks safe without events.
type gpu struct {
	work  chan func()
	dev   cu.Device
	ctx   cu.CUContext
	blas  *cublas.Standard
	alloc *cachingAlloc
	info  Info
	mod   cu.Module
	fns   map[string]cu.Function
	built bool
	// cubinCached says the kernels came from the CUBIN cache, not NVRTC.
	cubinCached bool
}

var (
	gpuOnce sync.Once
	theGPU  *gpu
	gpuErr  error
)

// getGPU starts the device on first use.
func getGPU() (*gpu, error) {
	gpuOnce.Do(func() { theGPU, gpuErr = startGPU(0) })
	return theGPU, gpuErr
}

func mustGPU() *gpu {
	g, err := getGPU()
	if err != nil {
		panic(err)
	}
	return g
}

func startGPU(ordinal int) (*gpu, error) {
	g := &gpu{work: make(chan func()), fns: map[string]cu.Function{}}
	g.alloc = newCachingAlloc(devMem{})
	errc := make(chan error)
	go g.loop(ordinal, errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	return g, nil
}

// loop is the device goroutine. It never unlocks its thread: the context
// stays current there for the life of the process.
func (g *gpu) loop(ordinal int, errc chan<- error) {
	runtime.LockOSThread()
	err := protect(func() error { return g.open(ordinal) })
	errc <- err
	if err != nil {
		return
	}
	for f := range g.work {
		f()
	}
}

func (g *gpu) open(ordinal int) error {
	var err error
	if g.dev, err = cu.GetDevice(ordinal); err != nil {
		return cuErr("cuDeviceGet", err)
	}
	if g.ctx, err = g.dev.RetainPrimaryCtx(); err != nil {
		return cuErr("cuDevicePrimaryCtxRetain", err)
	}
	if err = cu.SetCurrentContext(g.ctx); err != nil {
		return cuErr("cuCtxSetCurrent", err)
	}
	in := Info{Driver: cu.Version()}
	if in.Name, err = g.dev.Name(); err != nil {
		return cuErr("cuDeviceGetName", err)
	}
	if in.CC[0], err = g.dev.Attribute(cu.ComputeCapabilityMajor); err != nil {
		return cuErr("cuDeviceGetAttribute", err)
	}
	if in.CC[1], err = g.dev.Attribute(cu.ComputeCapabilityMinor); err != nil {
		return cuErr("cuDeviceGetAttribute", err)
	}
	if in.FreeMem, in.TotalMem, err = cu.MemInfo(); err != nil {
		return cuErr("cuMemGetInfo", err)
	}
	if in.NVRTC[0], in.NVRTC[1], err = nvrtcVersion(); err != nil {
		return err
	}
	in.Architecture = fmt.Sprintf("sm_%d%d", in.CC[0], in.CC[1])
	g.info = in
	// cublas.New panics on failure; protect turns that into an error.
	g.blas = cublas.New()
	return nil
}

// do runs f on the device goroutine and returns its error; a panic in f
// (a failed call reported by a library that panics) becomes an error.
func (g *gpu) do(f func() error) error {
	done := make(chan error, 1)
	g.work <- func() { done <- protect(f) }
	return <-done
}

func protect(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("cuda: %w", e)
				return
			}
			err = fmt.Errorf("cuda: %v", r)
		}
	}()
	return f()
}

// must panics with err: the Backend interface has no error results, so a
// failed CUDA call surfaces as a panic carrying the *Error that names it.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// cuErr names the call of an error returned by gorgonia.org/cu or cu/blas,
// whose status types are integers under the hood.
func cuErr(call string, err error) error {
	if err == nil {
		return nil
	}
	v := reflect.ValueOf(err)
	switch v.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64:
		if _, ok := err.(cublas.Status); ok {
			return blasErr(call, int(v.Int()))
		}
		return driverErr(call, int(v.Int()))
	case reflect.Uint, reflect.Uint32, reflect.Uint64:
		return driverErr(call, int(v.Uint()))
	}
	return fmt.Errorf("cuda: %s: %w", call, err)
}

// devMem is the raw device allocator under the cache; its methods run on
// the device goroutine (the cache calls them from inside g.do).
type devMem struct{}

func (devMem) malloc(bytes int) (uintptr, error) {
	p, err := cu.MemAlloc(int64(bytes))
	return uintptr(p), cuErr("cuMemAlloc", err)
}

func (devMem) free(p uintptr, _ int) error { return cuErr("cuMemFree", cu.MemFree(cu.DevicePtr(p))) }

// function returns the named kernel, compiling the module on first use:
// the generated source, to a CUBIN for this device, once per process.
func (g *gpu) function(name string) (cu.Function, error) {
	if fn, ok := g.fns[name]; ok {
		return fn, nil
	}
	if !g.built {
		src := kernelSource()
		opts := []string{"--gpu-architecture=" + g.info.Architecture, "--std=c++14"}
		key := cubinKey(src, opts, g.info.NVRTC, g.info.Driver)
		mod, fromCache, err := cachedModule(defaultCubinCache(), key,
			func() ([]byte, error) { return compileCUBIN(src, "vmdls_kernels.cu", opts) },
			func(b []byte) (cu.Module, error) {
				m, err := cu.LoadData(string(b))
				return m, cuErr("cuModuleLoadData", err)
			})
		if err != nil {
			return cu.Function{}, err
		}
		g.mod, g.built, g.cubinCached = mod, true, fromCache
	}
	fn, err := g.mod.Function(name)
	if err != nil {
		return cu.Function{}, cuErr("cuModuleGetFunction("+name+")", err)
	}
	g.fns[name] = fn
	return fn, nil
}

const threadsPerBlock = 256

// launch runs a grid-stride kernel over n items; it must be called on the
// device goroutine. Every argument is 8 bytes (see kernels.cu).
func (g *gpu) launch(name string, n int, args ...uint64) error {
	return g.launchGrid(name, min(max((n+threadsPerBlock-1)/threadsPerBlock, 1), 1<<20), args...)
}

func (g *gpu) launchGrid(name string, blocks int, args ...uint64) error {
	fn, err := g.function(name)
	if err != nil {
		return err
	}
	params := make([]unsafe.Pointer, len(args))
	for i := range args {
		params[i] = unsafe.Pointer(&args[i])
	}
	return cuErr("cuLaunchKernel("+name+")", fn.Launch(blocks, 1, 1, threadsPerBlock, 1, 1, 0, cu.Stream{}, params))
}

// sync waits for the device to finish, reporting asynchronous errors.
func (g *gpu) sync() error { return cuErr("cuCtxSynchronize", cu.Synchronize()) }

// sgemm is one column-major cuBLAS call on device addresses.
func (g *gpu) sgemm(c colGemm, alpha float32, a, b uintptr, aLen, bLen int, beta float32, cp uintptr, cLen int) error {
	tr := func(t bool) gblas.Transpose {
		if t {
			return gblas.Trans
		}
		return gblas.NoTrans
	}
	g.blas.Sgemm(tr(c.TransA), tr(c.TransB), c.M, c.N, c.K, alpha, devFloats(a, aLen), c.Lda,
		devFloats(b, bLen), c.Ldb, beta, devFloats(cp, cLen), c.Ldc)
	return cuErr("cublasSgemm", g.blas.Err())
}

// devFloats is a Go slice header over device memory, for cu/blas, which
// takes slices and passes &s[0]; the host never dereferences it. The
// pointer is built through memory so vet sees no uintptr conversion.
func devFloats(p uintptr, n int) []float32 {
	up := *(*unsafe.Pointer)(unsafe.Pointer(&p))
	return unsafe.Slice((*float32)(up), max(n, 1))
}
