// Package nets times a VMDLS model's training step and inference the way
// ../shared/anchors/nets.py times PyTorch's, so that the two can be quoted
// side by side: the same network (an encoder of nn/backbone with the two
// latent heads), the same stand-in loss, optimizer, batch and FLOP count.
// The `vmdls bench train-step|infer` commands and the Benchmark functions of
// this package both run it.
//
// It sits beside ovd, on nn/backbone, nn, autograd and tensor, and the vmdls
// command imports it. New builds a Net (the model and a random batch drawn
// from a seed) and Run times one bench ("train-step" or "infer") into a
// Result; the stand-in loss is TripletKLLoss.
package nets
