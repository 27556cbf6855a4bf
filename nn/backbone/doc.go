// Package backbone builds the encoders of METHOD.md section 6 and the VMDLS
// model around them (an encoder followed by the two latent heads), with the
// module names of the reference's PyTorch code, so that state_dict keys
// ("encoder.encoder.0.weight", "fc_mu.bias", ...) match between the two. It
// builds on nn, autograd and tensor, and is used by ovd, bench/nets and the
// commands.
//
// NewModel(encType, latentDim, rng) is the usual entry point: it builds the
// encoder named by the reference's --enc_type (EncTypes lists them:
// "mnist-conv" for 1×28×28 images, "vgg", "resnet18", "densenet" and
// "wresnet" for 3×32×32 ones, the five of the published experiments; then
// the others main.py offers, "resnet50", "mnist" (an MLP on 1×28×28) and
// "cifar" (a small conv net on 3×32×32)) and the heads fc_mu and fc_var; NewModelClasses
// also takes the run's --class_num, which sizes the one classifier the
// reference's encoders hold (densenet's fc, unused by h but in its
// state_dict, so that its checkpoints load strictly). The module layouts and
// keys are checked against the authors' own classes (BGU-CS-VIL/vmdls;
// testdata/gen_reference_golden.py and gen_reference_more.py). Model.Encode
// gives mu and logvar for training, Model.Forward gives mu alone. Every
// encoder but mnist and cifar (whose reference classes define no
// get_layer_output) also implements Tapped, whose ForwardTaps yields the
// output h and three global-average-pooled intermediate feature maps from
// one pass, which the test procedure's feature ensemble needs;
// InferChunked runs that over a large batch in bounded memory without
// recording a graph. NewEncoder builds an encoder alone, and NewMnistAE,
// NewResNetAE (CIFAR-10, ResNet-18) and NewResNet50AE (CIFAR-100,
// ResNet-50) the autoencoders of the reconstruction weight (METHOD.md
// section 5).
//
// Conventions: inputs are float32 NCHW; weights are drawn from the
// caller's *rand.Rand in the order PyTorch constructs the modules, so a seed
// fixes them (they are not PyTorch's numbers, which come from another
// generator; load a converted checkpoint with nn.LoadCheckpoint for those).
// An unknown encoder name is an error listing the valid ones; invalid
// architecture parameters and wrong input shapes panic, as in package nn.
package backbone
