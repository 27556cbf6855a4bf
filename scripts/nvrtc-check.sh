#!/bin/sh
# Compile the GPU kernels' CUDA C with NVRTC for sm_90 on a machine without a
# GPU, the check issue 17 asks for before anything runs on the device.
# Debian 12's NVRTC 11.8 (libnvrtc11.2 + libnvrtc-builtins11.8, non-free) is
# fetched with apt-get download and unpacked into /tmp/nvrtc, never
# installed and never committed; a ten-line C driver loads it. The source
# is the one the cuda package compiles at run time (kernelSource), dumped by
# its TestKernelSource.
set -eu
cd "$(dirname "$0")/.."
ROOT=${NVRTC_ROOT:-/tmp/nvrtc}
LIB=$ROOT/root/usr/lib/x86_64-linux-gnu
if [ ! -e "$LIB/libnvrtc.so.11.2" ]; then
  mkdir -p "$ROOT"
  (cd "$ROOT" && apt-get download libnvrtc11.2 libnvrtc-builtins11.8 >/dev/null)
  for d in "$ROOT"/*.deb; do dpkg -x "$d" "$ROOT/root"; done
fi
SRC=$(mktemp /tmp/vm_kernels.XXXXXX.cu)
DRV=$(mktemp -d /tmp/nvrtc-drv.XXXXXX)
trap 'rm -rf "$SRC" "$DRV"' EXIT
VMDLS_DUMP_KERNELS=$SRC go test ./cuda -run '^TestKernelSource$' -count=1 >/dev/null
cat >"$DRV/drv.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
typedef struct _p *prog;
int nvrtcCreateProgram(prog *, const char *, const char *, int, const char **, const char **);
int nvrtcCompileProgram(prog, int, const char **);
int nvrtcGetProgramLogSize(prog, size_t *);
int nvrtcGetProgramLog(prog, char *);
int nvrtcGetCUBINSize(prog, size_t *);
int main(int argc, char **argv) {
	FILE *f = fopen(argv[1], "rb");
	fseek(f, 0, SEEK_END); long n = ftell(f); rewind(f);
	char *src = calloc(n + 1, 1);
	if (fread(src, 1, n, f) != (size_t)n) return 2;
	prog p;
	const char *opts[] = {"--gpu-architecture=sm_90", "--std=c++14"};
	if (nvrtcCreateProgram(&p, src, "vmdls_kernels.cu", 0, 0, 0)) return 2;
	int r = nvrtcCompileProgram(p, 2, opts);
	size_t ls; nvrtcGetProgramLogSize(p, &ls);
	char *log = calloc(ls + 1, 1); nvrtcGetProgramLog(p, log);
	if (ls > 1) fputs(log, stderr);
	size_t cb = 0; if (r == 0) nvrtcGetCUBINSize(p, &cb);
	printf("nvrtc: status %d, CUBIN %zu bytes for sm_90 from %ld bytes of CUDA C\n", r, cb, n);
	return r != 0 || cb == 0;
}
C
gcc -o "$DRV/drv" "$DRV/drv.c" -L"$LIB" -l:libnvrtc.so.11.2 -Wl,-rpath,"$LIB"
LD_LIBRARY_PATH="$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$DRV/drv" "$SRC"
