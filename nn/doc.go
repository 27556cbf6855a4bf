// Package nn holds the building blocks of networks: the Module abstraction
// with PyTorch's state_dict naming, layers, initializers, losses, optimizers,
// learning-rate schedules and checkpoints. It builds on autograd and tensor
// (whose backend primitives SGDStep and AdamStep are the optimizers' fused
// update steps, run on the parameters' device), and on safetensors and
// torchfile for its checkpoints; nn/backbone and ovd build on it.
//
// A Module has a Forward on autograd Vars and registers its parameters,
// buffers and children, in PyTorch's order and under PyTorch's names, through
// an embedded Base; StateDict, NamedParameters and Parameters walk them, so
// keys such as "encoder.0.weight" or "bn1.running_mean" are those of the
// same network's torch state_dict. The layers are Linear, Conv2d,
// ConvTranspose2d, BatchNorm2d, ReLU, MaxPool2d, AvgPool2d,
// AdaptiveAvgPool2d, Dropout, Flatten, Upsample, Identity and Sequential;
// SetTraining switches train and eval mode below a module. Training uses SGD
// or Adam (the Optimizer interface, PyTorch's update rules and
// state_dict layout) with StepLR, and SaveCheckpoint and LoadCheckpoint keep
// the model, the optimizer, the schedule and extras in one safetensors file.
// ToDevice moves a module's parameters, buffers and optimizer state to
// another device (a GPU) in place; checkpoints are read and written through
// the host whatever the device.
//
// Conventions: float32 NCHW activations; every random initialization draws
// from a caller-supplied *rand.Rand (math/rand/v2) in PyTorch's construction
// order, so a seed fixes the weights. Bad hyperparameters (NewSGD, NewAdam,
// NewStepLR) and everything touching files return errors that name the
// setting, file or key; shape mismatches in Forward and invalid layer
// geometry are programming errors and panic, as in package tensor.
package nn
