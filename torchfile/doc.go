// Package torchfile reads the state_dict of a PyTorch checkpoint in pure
// Go, without Python and without running any code from the file.
//
// # Formats
//
//   - The zip format of torch.save since PyTorch 1.6: DIR/data.pkl (the
//     pickled object) and DIR/data/KEY (one record per storage, stored
//     uncompressed), where DIR is "archive" or the file's base name.
//   - The legacy format (torch.save before 1.6, and with
//     _use_new_zipfile_serialization=False): pickles of the magic number,
//     the protocol version 1001, the system information and the object,
//     a pickled list of storage keys, then each storage as an 8-byte
//     little-endian element count and its bytes.
//
// Detect tells them apart by content: the zip signature, or a pickle whose
// first object is the legacy magic number.
//
// # What is read
//
// The object may be a state_dict itself (torch.save(model.state_dict())),
// or a dict holding one under "state_dict" (PyTorch Lightning's .ckpt, the
// .pth.tar snapshots of the ODIN/Mahalanobis era), "model_state_dict",
// "model" or "net". Its tensors are returned as safetensors.Tensor values,
// contiguous whatever their strides and storage offsets in the file, with
// tensors that are the same view of one storage (tied weights) sharing
// their bytes: float32 as F32; float16 and bfloat16 converted exactly to
// F32; float64 rounded to F32 (kept as F64 with Options.KeepFloat64);
// int64 as I64; int32, int16, int8, uint8 and bool widened exactly to I64.
// Entries of the state_dict that are not tensors are skipped and noted.
// When every key starts with "module." (a model wrapped in DataParallel),
// the prefix is stripped and the Header says so.
//
// The other top-level entries become string metadata: text as is, numbers
// and booleans as JSON literals, containers such as Lightning's
// hyper_parameters as JSON objects. Training state (optimizer_states,
// lr_schedulers, callbacks, loops, optimizer, ...) is left out and its keys
// listed under "torch_skipped"; the storages only it uses are never read.
// "torch_format" names the format, "torch_state_dict_key" the key the
// state_dict was under and "torch_stripped_prefix" a stripped prefix.
//
// # The restricted unpickler
//
// The pickle virtual machine implements the opcodes of protocols 0 to 5
// that data can be built with, and nothing that runs code: a global is
// resolved only if it is in AllowedGlobals, the allowed globals build
// values of this package (a dict, a tensor view, a device name) rather
// than Python objects, and any other global is refused, with a
// *ForbiddenGlobalError naming it, before anything is built from it. The
// allowed globals are collections.OrderedDict; torch._utils's
// _rebuild_tensor_v2, _rebuild_tensor, _rebuild_parameter and
// _rebuild_parameter_with_state; torch._tensor._rebuild_from_type_v2 with
// torch.Tensor or torch.nn.Parameter; the storage types (torch.FloatStorage
// and the other nine); torch.device; torch.Size;
// torch's dtype objects (kept as names); set and frozenset; _codecs.encode
// (how protocol 2 writes bytes); argparse.Namespace and Lightning's
// AttributeDict (read as dicts); and Lightning's ModelCheckpoint,
// EarlyStopping and LearningRateMonitor classes, which Lightning before 1.5
// uses as dict keys and which may be named but not called.
//
// Memory is bounded by the file: every length read from it is checked
// against the bytes that remain before anything is allocated for it, every
// opcode adds at most one value, tensor views are checked against their
// storages with overflow-checked arithmetic, and the tensors returned may
// hold no more elements than the file's storages hold bytes. Only stored
// (uncompressed) zip records are read, as torch.save writes them, so no
// record can expand beyond the file.
package torchfile
