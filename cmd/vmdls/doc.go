// Command vmdls trains and evaluates VMDLS out-of-distribution detectors and
// measures the engine beneath them. It is the only package that parses flags
// or prints progress; the work itself is in package ovd and below.
//
// Usage:
//
//	vmdls info [--json] [--selftest]   version, CPU features, kernel path; the GPU in a cuda build
//	vmdls bench gemm [flags]           SGEMM throughput as one JSON line (--device cuda in a cuda build)
//	vmdls bench conv [flags]           forward convolution throughput, one JSON line
//	vmdls bench train-step|infer       a network's training step or inference, one JSON line
//	vmdls data fetch|verify|info       datasets: download with checksums, verify, describe
//	vmdls train [flags]                train an OOD model (the reference's main.py flags)
//	vmdls test [flags]                 fit and score one (the reference's test.py flags)
//	vmdls train-ae [flags]             train the autoencoder --ae_features uses
//	vmdls fit --out FILE [flags]       a detector file from a trained model (test's flags)
//	vmdls score --detector FILE IN...  CSV verdicts on files, folders, archives, dataset splits
//	vmdls serve --detector FILE        the detector over HTTP (package ovd/serve)
//	vmdls bench serve --detector FILE  load test of the HTTP endpoint on loopback
//	vmdls demo                         MNIST vs Omniglot, end to end, in minutes
//	vmdls convert IN OUT.safetensors   a PyTorch checkpoint (.ckpt, .pth, .pth.tar) as safetensors
//	vmdls version                      the release and the VCS revision of the build
//
// Every command and subcommand prints its flags for -h, -help, --help or
// `vmdls help CMD [SUB]`, on stdout, and exits 0 (bench conv's -h is its
// input height; --help still prints its help).
//
// train, test, train-ae and demo take --dry_run, which prints the resolved
// configuration as one JSON object and exits without reading anything but
// the header of --checkpoint_path. train, test and train-ae read that JSON
// back with --config FILE (flags on the command line override it), and
// every run writes it as config.json beside metrics.jsonl.
//
// Defaults form a valid run: unless given, the encoder follows
// --known_dataset (mnist-conv for 1x28x28 images, resnet18 for colour
// ones), --enc_out_dim and --input_height follow the encoder, and test
// takes --enc_type, --latent_dim and --class_num from the checkpoint; a
// given flag that disagrees with the checkpoint is an error.
//
// Exit status: 0 success; 2 a bad input: a flag, a combination of flags, or
// a file that cannot be used or is missing (a checkpoint of another network
// or kind, or with weights that are not finite, a corrupt or missing
// dataset file), found before the output folder is created except for the
// dataset files, which the loader reads (the folder is then removed); 1 a failure during the work (a full
// disk, a training run that diverged); 130 an interrupted run.
package main
