//go:build !amd64 || purego

package kernels

// Off amd64 useAVX2 is always false, so these stand-ins for the assembly
// transforms are never called; they exist so the wrappers compile.

func winoIn2AVX2(v *float32, vs int, x *float32, offs *int32, n int, ldx int, tmp *float32) { noAsm() }
func winoOut2AVX2(y *float32, ldy int, offs *int32, n int, mm *float32, ms int, bias float32, relu int, tmp *float32) {
	noAsm()
}
func winoIn4AVX2(v *float32, vs int, x *float32, offs *int32, n int, ldx int, tmp *float32) { noAsm() }
func winoOut4AVX2(y *float32, ldy int, offs *int32, n int, mm *float32, ms int, bias float32, relu int, tmp *float32) {
	noAsm()
}
func winoIn2AVX512(v *float32, vs int, x *float32, offs *int32, n int, ldx int, tmp *float32) {
	noAsm()
}
func winoOut2AVX512(y *float32, ldy int, offs *int32, n int, mm *float32, ms int, bias float32, relu int, tmp *float32) {
	noAsm()
}
func winoIn4AVX512(v *float32, vs int, x *float32, offs *int32, n int, ldx int, tmp *float32) {
	noAsm()
}
func winoOut4AVX512(y *float32, ldy int, offs *int32, n int, mm *float32, ms int, bias float32, relu int, tmp *float32) {
	noAsm()
}
func winoGrad2AVX2(u *float32, us int, grad *float32, offs *int32, n int, ldg int) { noAsm() }
