// Package autograd is reverse-mode automatic differentiation over the ops of
// package tensor, with PyTorch's define-by-run semantics: every op on Vars
// records how to send gradients back to its inputs, and Backward walks that
// record once, from a scalar, accumulating into the leaves' gradients. Of
// the module it imports only tensor; nn, nn/backbone, ovd and ovd/losses
// build on it.
//
// A Var wraps a tensor.Tensor. Leaves are made with Param (trainable), Const
// (no gradient) or NewVar; the ops (Add, MatMul, Conv2d, BatchNorm2d,
// LogSoftmax, ...) mirror package tensor's and take the same NCHW and
// row-major layouts. After Backward, Grad holds each leaf's gradient; ZeroGrad
// drops it. NoGrad runs inference without recording (process-wide, so not
// while another goroutine trains), Custom records an op with a hand-written
// backward pass, and CheckGrad compares an op's gradient with central finite
// differences.
//
// The graph is released as Backward walks it (the saved tensors of each op
// become garbage), so a second Backward through the same graph is an error
// (ErrReleased), as in PyTorch without retain_graph. Backward and
// BackwardWith report misuse of the call itself (a non-scalar root, a root
// that needs no gradient) as errors; shape mismatches inside ops panic with
// tensor's *ShapeError, as in package tensor.
package autograd
