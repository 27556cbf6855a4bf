//go:build cuda

package cuda

/*
#cgo LDFLAGS: -lnvrtc
#include <stdlib.h>
#include <nvrtc.h>
*/
import "C"

import "unsafe"

// NVRTC through a few lines of cgo rather than gorgonia.org/cu/nvrtc, which
// only returns PTX: PTX from an NVRTC newer than the driver fails to load
// (CUDA_ERROR_UNSUPPORTED_PTX_VERSION), a CUBIN for the device's own
// architecture does not.

func nvrtcVersion() (major, minor int, err error) {
	var ma, mi C.int
	if r := C.nvrtcVersion(&ma, &mi); r != 0 {
		return 0, 0, nvrtcErr("nvrtcVersion", int(r), "")
	}
	return int(ma), int(mi), nil
}

// compileCUBIN compiles one CUDA C translation unit to a CUBIN. The error
// carries NVRTC's log when compilation fails.
func compileCUBIN(src, name string, opts []string) ([]byte, error) {
	csrc, cname := C.CString(src), C.CString(name)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(cname))
	var prog C.nvrtcProgram
	if r := C.nvrtcCreateProgram(&prog, csrc, cname, 0, nil, nil); r != 0 {
		return nil, nvrtcErr("nvrtcCreateProgram", int(r), "")
	}
	defer C.nvrtcDestroyProgram(&prog)
	copts := make([]*C.char, len(opts)+1)
	for i, o := range opts {
		copts[i] = C.CString(o)
		defer C.free(unsafe.Pointer(copts[i]))
	}
	r := C.nvrtcCompileProgram(prog, C.int(len(opts)), &copts[0])
	if r != 0 {
		return nil, nvrtcErr("nvrtcCompileProgram", int(r), programLog(prog))
	}
	var size C.size_t
	if r := C.nvrtcGetCUBINSize(prog, &size); r != 0 {
		return nil, nvrtcErr("nvrtcGetCUBINSize", int(r), "")
	}
	if size == 0 {
		return nil, nvrtcErr("nvrtcGetCUBINSize", 4, "empty CUBIN (was a virtual architecture given?)")
	}
	buf := make([]byte, int(size))
	if r := C.nvrtcGetCUBIN(prog, (*C.char)(unsafe.Pointer(&buf[0]))); r != 0 {
		return nil, nvrtcErr("nvrtcGetCUBIN", int(r), "")
	}
	return buf, nil
}

func programLog(prog C.nvrtcProgram) string {
	var size C.size_t
	if C.nvrtcGetProgramLogSize(prog, &size) != 0 || size <= 1 {
		return ""
	}
	buf := make([]byte, int(size))
	if C.nvrtcGetProgramLog(prog, (*C.char)(unsafe.Pointer(&buf[0]))) != 0 {
		return ""
	}
	return string(buf[:len(buf)-1])
}
