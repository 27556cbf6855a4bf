package cuda

import "fmt"

// Error is a failed CUDA driver, cuBLAS or NVRTC call: the library, the call
// and the status it returned, by number and by its name in the headers, so
// that a failure on the GPU machine can be looked up without the headers.
type Error struct {
	Lib  string // "cuda", "cublas" or "nvrtc"
	Call string // the function that failed, e.g. "cuMemAlloc"
	Code int    // the status value
	Name string // the status's enum name, e.g. "CUDA_ERROR_OUT_OF_MEMORY"
	Log  string // NVRTC's compile log, when there is one
}

// Error reads like "cuda: cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY (2)".
func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s: %s (%d)", e.Lib, e.Call, e.Name, e.Code)
	if e.Log != "" {
		s += "\n" + e.Log
	}
	return s
}

// OutOfMemory reports whether the call failed for lack of device memory, the
// one failure the allocator recovers from (by freeing its cache and retrying).
func (e *Error) OutOfMemory() bool {
	return (e.Lib == "cuda" && e.Code == 2) || (e.Lib == "cublas" && e.Code == 3) || (e.Lib == "nvrtc" && e.Code == 1)
}

// driverErr maps a CUresult to an error naming call; 0 (CUDA_SUCCESS) is nil.
func driverErr(call string, code int) error {
	if code == 0 {
		return nil
	}
	return &Error{Lib: "cuda", Call: call, Code: code, Name: statusName(driverStatus, "CUDA_ERROR_", code)}
}

// blasErr maps a cublasStatus_t to an error naming call.
func blasErr(call string, code int) error {
	if code == 0 {
		return nil
	}
	return &Error{Lib: "cublas", Call: call, Code: code, Name: statusName(blasStatus, "CUBLAS_STATUS_", code)}
}

// nvrtcErr maps an nvrtcResult to an error naming call, with the compile log.
func nvrtcErr(call string, code int, log string) error {
	if code == 0 {
		return nil
	}
	return &Error{Lib: "nvrtc", Call: call, Code: code, Name: statusName(nvrtcStatus, "NVRTC_ERROR_", code), Log: log}
}

func statusName(table map[int]string, prefix string, code int) string {
	if n, ok := table[code]; ok {
		return prefix + n
	}
	// A status newer than the 11.8 headers these tables were checked against.
	return fmt.Sprintf("%sUNKNOWN_STATUS_%d", prefix, code)
}

// driverStatus is CUresult of cuda.h (11.8), without the CUDA_ERROR_ prefix.
// The numbers are the ABI: they are the same in CUDA 13's header.
var driverStatus = map[int]string{
	1: "INVALID_VALUE", 2: "OUT_OF_MEMORY", 3: "NOT_INITIALIZED", 4: "DEINITIALIZED",
	5: "PROFILER_DISABLED", 6: "PROFILER_NOT_INITIALIZED", 7: "PROFILER_ALREADY_STARTED",
	8: "PROFILER_ALREADY_STOPPED", 34: "STUB_LIBRARY", 46: "DEVICE_UNAVAILABLE",
	100: "NO_DEVICE", 101: "INVALID_DEVICE", 102: "DEVICE_NOT_LICENSED",
	200: "INVALID_IMAGE", 201: "INVALID_CONTEXT", 202: "CONTEXT_ALREADY_CURRENT",
	205: "MAP_FAILED", 206: "UNMAP_FAILED", 207: "ARRAY_IS_MAPPED", 208: "ALREADY_MAPPED",
	209: "NO_BINARY_FOR_GPU", 210: "ALREADY_ACQUIRED", 211: "NOT_MAPPED",
	212: "NOT_MAPPED_AS_ARRAY", 213: "NOT_MAPPED_AS_POINTER", 214: "ECC_UNCORRECTABLE",
	215: "UNSUPPORTED_LIMIT", 216: "CONTEXT_ALREADY_IN_USE", 217: "PEER_ACCESS_UNSUPPORTED",
	218: "INVALID_PTX", 219: "INVALID_GRAPHICS_CONTEXT", 220: "NVLINK_UNCORRECTABLE",
	221: "JIT_COMPILER_NOT_FOUND", 222: "UNSUPPORTED_PTX_VERSION", 223: "JIT_COMPILATION_DISABLED",
	224: "UNSUPPORTED_EXEC_AFFINITY", 300: "INVALID_SOURCE", 301: "FILE_NOT_FOUND",
	302: "SHARED_OBJECT_SYMBOL_NOT_FOUND", 303: "SHARED_OBJECT_INIT_FAILED", 304: "OPERATING_SYSTEM",
	400: "INVALID_HANDLE", 401: "ILLEGAL_STATE", 500: "NOT_FOUND", 600: "NOT_READY",
	700: "ILLEGAL_ADDRESS", 701: "LAUNCH_OUT_OF_RESOURCES", 702: "LAUNCH_TIMEOUT",
	703: "LAUNCH_INCOMPATIBLE_TEXTURING", 704: "PEER_ACCESS_ALREADY_ENABLED",
	705: "PEER_ACCESS_NOT_ENABLED", 708: "PRIMARY_CONTEXT_ACTIVE", 709: "CONTEXT_IS_DESTROYED",
	710: "ASSERT", 711: "TOO_MANY_PEERS", 712: "HOST_MEMORY_ALREADY_REGISTERED",
	713: "HOST_MEMORY_NOT_REGISTERED", 714: "HARDWARE_STACK_ERROR", 715: "ILLEGAL_INSTRUCTION",
	716: "MISALIGNED_ADDRESS", 717: "INVALID_ADDRESS_SPACE", 718: "INVALID_PC", 719: "LAUNCH_FAILED",
	720: "COOPERATIVE_LAUNCH_TOO_LARGE", 800: "NOT_PERMITTED", 801: "NOT_SUPPORTED",
	802: "SYSTEM_NOT_READY", 803: "SYSTEM_DRIVER_MISMATCH", 804: "COMPAT_NOT_SUPPORTED_ON_DEVICE",
	805: "MPS_CONNECTION_FAILED", 806: "MPS_RPC_FAILURE", 807: "MPS_SERVER_NOT_READY",
	808: "MPS_MAX_CLIENTS_REACHED", 809: "MPS_MAX_CONNECTIONS_REACHED", 810: "MPS_CLIENT_TERMINATED",
	900: "STREAM_CAPTURE_UNSUPPORTED", 901: "STREAM_CAPTURE_INVALIDATED", 902: "STREAM_CAPTURE_MERGE",
	903: "STREAM_CAPTURE_UNMATCHED", 904: "STREAM_CAPTURE_UNJOINED", 905: "STREAM_CAPTURE_ISOLATION",
	906: "STREAM_CAPTURE_IMPLICIT", 907: "CAPTURED_EVENT", 908: "STREAM_CAPTURE_WRONG_THREAD",
	909: "TIMEOUT", 910: "GRAPH_EXEC_UPDATE_FAILURE", 911: "EXTERNAL_DEVICE", 912: "INVALID_CLUSTER_SIZE",
	999: "UNKNOWN",
}

// blasStatus is cublasStatus_t of cublas_api.h, without CUBLAS_STATUS_.
var blasStatus = map[int]string{
	1: "NOT_INITIALIZED", 3: "ALLOC_FAILED", 7: "INVALID_VALUE", 8: "ARCH_MISMATCH",
	11: "MAPPING_ERROR", 13: "EXECUTION_FAILED", 14: "INTERNAL_ERROR", 15: "NOT_SUPPORTED",
	16: "LICENSE_ERROR",
}

// nvrtcStatus is nvrtcResult of nvrtc.h, without NVRTC_ERROR_.
var nvrtcStatus = map[int]string{
	1: "OUT_OF_MEMORY", 2: "PROGRAM_CREATION_FAILURE", 3: "INVALID_INPUT", 4: "INVALID_PROGRAM",
	5: "INVALID_OPTION", 6: "COMPILATION", 7: "BUILTIN_OPERATION_FAILURE",
	8: "NO_NAME_EXPRESSIONS_AFTER_COMPILATION", 9: "NO_LOWERED_NAMES_BEFORE_COMPILATION",
	10: "NAME_EXPRESSION_NOT_VALID", 11: "INTERNAL_ERROR",
}
