// Package data reads the datasets the VMDLS experiments use from the files
// their authors distribute, turns them into normalized float32 NCHW batches,
// and fetches missing files with verified downloads.
//
// The layers, bottom up:
//
//   - readers of the distributed formats: IDX (MNIST family, gzipped or raw),
//     CIFAR-10/100 binary batches, NumPy .npy/.npz, and archives (directories,
//     zip, tar, tar.gz) walked in memory without unpacking to disk, with
//     image folders of PNG and JPEG on top of them;
//   - Image, an 8-bit planar picture, and transforms that reproduce
//     torchvision's on PIL images (geometry and PIL's resampling), followed by
//     float transforms on the CHW tensor (scaling, Normalize, noise);
//   - Dataset, the indexed collection of labelled images, and the named
//     datasets of the reference's --known_dataset/--unknown_dataset flags;
//   - samplers (class-balanced training batches, round-robin test batches,
//     sequential batches) and a Loader that decodes and augments in parallel
//     and gives the same batches for the same seed whatever the worker count;
//   - downloads from the canonical URLs, checked against known sums,
//     resumable and placed atomically.
//
// Every reader reports a bad file as a *FormatError naming the file and the
// problem; no reader allocates more than the data it has actually read or a
// documented limit, so a lying header cannot exhaust memory.
//
// The usual entry points are Open and OpenUnknown (a named dataset's split
// under Options.Dir, which defaults to $VMDLS_DATA or ./data), Pipeline (the
// reference's --data_transforms by name), NewBalancedSampler and NewLoader.
// Batches are float32 NCHW, ready for the tensor package. Every random
// choice (sampling, augmentation) derives from an explicit uint64 seed, never
// from a global source. Of the module it imports tensor (the batches),
// parallel (decoding over the worker pool) and internal/regularfile; ovd and
// the commands build on it.
package data
