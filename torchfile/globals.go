package torchfile

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
)

// globalKind says what an allowed global is and what calling it builds.
type globalKind int

const (
	gOrderedDict globalKind = iota // collections.OrderedDict
	gAttributeDict
	gNamespace
	gRebuildTensorV2
	gRebuildTensor
	gRebuildParameter
	gRebuildParameterWithState
	gRebuildFromType
	gTensorType // torch.Tensor and Parameter, named by _rebuild_from_type_v2
	gStorageType
	gDevice
	gSize
	gSet
	gCodecsEncode
	gDType     // a torch dtype object, kept as its name
	gClassName // a class used only as a value (Lightning's callback keys)
)

// pyGlobal is an allowed global: a class or function reference. It can be
// called only as its kind says.
type pyGlobal struct {
	module, name string
	kind         globalKind
	// dtype is set for the storage types.
	dtype *dtypeInfo
}

func (g *pyGlobal) String() string { return g.module + "." + g.name }

// dtypeInfo describes the element type of one torch storage type.
type dtypeInfo struct {
	// torch is the dtype's name in torch ("float16").
	torch string
	size  int
}

var storageTypes = map[string]*dtypeInfo{
	"FloatStorage":    {"float32", 4},
	"DoubleStorage":   {"float64", 8},
	"HalfStorage":     {"float16", 2},
	"BFloat16Storage": {"bfloat16", 2},
	"LongStorage":     {"int64", 8},
	"IntStorage":      {"int32", 4},
	"ShortStorage":    {"int16", 2},
	"CharStorage":     {"int8", 1},
	"ByteStorage":     {"uint8", 1},
	"BoolStorage":     {"bool", 1},
}

// allowedGlobals maps "module.name" to its kind: the globals that
// torch.save writes for state_dicts and training snapshots, and the few
// that Lightning checkpoints add. Nothing else is ever resolved.
var allowedGlobals = func() map[string]globalKind {
	m := map[string]globalKind{
		"collections.OrderedDict":                           gOrderedDict,
		"torch._utils._rebuild_tensor_v2":                   gRebuildTensorV2,
		"torch._utils._rebuild_tensor":                      gRebuildTensor,
		"torch._utils._rebuild_parameter":                   gRebuildParameter,
		"torch._utils._rebuild_parameter_with_state":        gRebuildParameterWithState,
		"torch._tensor._rebuild_from_type_v2":               gRebuildFromType,
		"torch.Tensor":                                      gTensorType,
		"torch._tensor.Tensor":                              gTensorType,
		"torch.nn.parameter.Parameter":                      gTensorType,
		"torch.device":                                      gDevice,
		"torch.Size":                                        gSize,
		"builtins.set":                                      gSet,
		"builtins.frozenset":                                gSet,
		"__builtin__.set":                                   gSet,
		"__builtin__.frozenset":                             gSet,
		"_codecs.encode":                                    gCodecsEncode,
		"argparse.Namespace":                                gNamespace,
		"pytorch_lightning.utilities.parsing.AttributeDict": gAttributeDict,
		"lightning.pytorch.utilities.parsing.AttributeDict": gAttributeDict,
		"lightning_fabric.utilities.data.AttributeDict":     gAttributeDict,
		"lightning.fabric.utilities.data.AttributeDict":     gAttributeDict,
	}
	// Lightning before 1.5 keys the callbacks' states by their classes.
	for _, mod := range []string{"pytorch_lightning", "lightning.pytorch"} {
		m[mod+".callbacks.model_checkpoint.ModelCheckpoint"] = gClassName
		m[mod+".callbacks.early_stopping.EarlyStopping"] = gClassName
		m[mod+".callbacks.lr_monitor.LearningRateMonitor"] = gClassName
	}
	// torch.save names a CUDA tensor's storage by its CPU type too (and
	// records the device as the location), so these are all it writes.
	for name := range storageTypes {
		m["torch."+name] = gStorageType
	}
	for _, d := range []string{"float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool", "float", "double", "half", "long", "int"} {
		m["torch."+d] = gDType
	}
	return m
}()

// AllowedGlobals lists the Python globals a checkpoint may name, sorted.
// Any other is refused with a *ForbiddenGlobalError before anything is
// built from it.
func AllowedGlobals() []string {
	out := make([]string, 0, len(allowedGlobals))
	for k := range allowedGlobals {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ForbiddenGlobalError reports a pickle that names a global outside
// AllowedGlobals (a class or function that only running Python code could
// provide). It matches ErrFormat.
type ForbiddenGlobalError struct {
	// Name is the file and pickle, as in other errors.
	Name string
	// Offset is the byte of the GLOBAL opcode in the pickle.
	Offset int
	// Global is "module.name", e.g. "os.system".
	Global string
}

func (e *ForbiddenGlobalError) Error() string {
	hint := "torchfile reads only state_dicts, Lightning checkpoints and training snapshots, and never runs code from a file"
	switch {
	case strings.HasPrefix(e.Global, "torch.nn.modules.") || strings.HasPrefix(e.Global, "torch.nn.parallel."):
		hint = "the file holds a whole pickled model; save model.state_dict() instead, or convert it with nn/convert/torch_safetensors.py --trust"
	case strings.HasPrefix(e.Global, "numpy."):
		hint = "the file holds numpy objects, which a state_dict does not need; convert it with nn/convert/torch_safetensors.py --trust if you trust it"
	}
	return fmt.Sprintf("torchfile: %s: byte %d: global %s is not allowed (%s)", e.Name, e.Offset, e.Global, hint)
}

// Is makes the error match ErrFormat.
func (e *ForbiddenGlobalError) Is(target error) bool { return target == ErrFormat }

// global pushes the allowed global module.name or refuses it.
func (u *unpickler) global(at int, module, name string) error {
	full := module + "." + name
	kind, ok := allowedGlobals[full]
	if !ok {
		return &ForbiddenGlobalError{Name: u.where, Offset: at, Global: clip(full)}
	}
	g := &pyGlobal{module: module, name: name, kind: kind}
	if kind == gStorageType {
		g.dtype = storageTypes[name]
	}
	u.push(g)
	return nil
}

// storageRef is a storage named by a persistent id: where its bytes are
// and how many elements it has. Tensors refer to it; its bytes are read
// only for the tensors that are returned.
type storageRef struct {
	key      string
	dtype    *dtypeInfo
	numel    int64
	location string
	// base and baseOffset are set for a legacy-format view into another
	// storage (torch before 1.0 could save those).
	base       *storageRef
	baseOffset int64
}

// tensorRef is a tensor rebuilt by _rebuild_tensor(_v2): a strided view of
// a storage, checked against it only when it is resolved.
type tensorRef struct {
	storage *storageRef
	offset  int64
	shape   []int64
	stride  []int64
}

// call runs REDUCE: fn(*args) for an allowed callable global.
func (u *unpickler) call(at int, fn, args any) (any, error) {
	g, ok := fn.(*pyGlobal)
	if !ok {
		return nil, u.errorf(at, "REDUCE calls a %s, which is not callable here", typeName(fn))
	}
	a, ok := args.(pyTuple)
	if !ok {
		return nil, u.errorf(at, "REDUCE calls %s with a %s of arguments, want a tuple", g, typeName(args))
	}
	bad := func(want string) (any, error) {
		return nil, u.errorf(at, "%s called with %s, want %s", g, describeArgs(a), want)
	}
	switch g.kind {
	case gOrderedDict, gAttributeDict:
		d := newDict(g.name)
		switch len(a) {
		case 0:
			return d, nil
		case 1:
			if err := fillDict(d, a[0]); err != nil {
				return nil, u.errorf(at, "%s(%s): %v", g, typeName(a[0]), err)
			}
			return d, nil
		}
		return bad("() or (items,)")
	case gNamespace:
		if len(a) != 0 {
			return bad("()")
		}
		return newDict(g.name), nil
	case gRebuildTensorV2, gRebuildTensor:
		least, want := 6, "(storage, offset, size, stride, requires_grad, backward_hooks)"
		if g.kind == gRebuildTensor {
			least, want = 4, "(storage, offset, size, stride)"
		}
		if len(a) < least || len(a) > 7 {
			return bad(want)
		}
		return u.rebuildTensor(at, g, a)
	case gRebuildParameter, gRebuildParameterWithState:
		if len(a) < 3 {
			return bad("(data, requires_grad, backward_hooks)")
		}
		t, ok := a[0].(*tensorRef)
		if !ok {
			return bad("a tensor first")
		}
		return t, nil
	case gRebuildFromType:
		if len(a) != 4 {
			return bad("(func, type, args, state)")
		}
		typ, ok := a[1].(*pyGlobal)
		if !ok || typ.kind != gTensorType {
			return bad("torch.Tensor or torch.nn.Parameter as the type")
		}
		inner, ok := a[0].(*pyGlobal)
		if !ok || (inner.kind != gRebuildTensorV2 && inner.kind != gRebuildTensor && inner.kind != gRebuildParameter) {
			return bad("a tensor rebuild function first")
		}
		return u.call(at, inner, a[2])
	case gDevice:
		if len(a) == 1 || len(a) == 2 {
			s, ok := a[0].(string)
			if !ok {
				return bad("a device type string")
			}
			if len(a) == 2 {
				i, ok := a[1].(int64)
				if !ok {
					return bad("(type, index)")
				}
				s = fmt.Sprintf("%s:%d", s, i)
			}
			return s, nil
		}
		return bad("(type) or (type, index)")
	case gSize:
		if len(a) != 1 {
			return bad("(dims,)")
		}
		t, ok := a[0].(pyTuple)
		if !ok {
			return bad("a tuple")
		}
		return t, nil
	case gSet:
		s := &pySet{}
		switch len(a) {
		case 0:
			return s, nil
		case 1:
			switch x := a[0].(type) {
			case *pyList:
				s.items = append(s.items, x.items...)
			case pyTuple:
				s.items = append(s.items, x...)
			case *pySet:
				s.items = append(s.items, x.items...)
			default:
				return bad("a list, tuple or set")
			}
			return s, nil
		}
		return bad("() or (items,)")
	case gCodecsEncode:
		// Protocol 2 pickles bytes as _codecs.encode(text, "latin1").
		if len(a) != 2 {
			return bad("(text, encoding)")
		}
		s, ok1 := a[0].(string)
		enc, ok2 := a[1].(string)
		if !ok1 || !ok2 || (enc != "latin1" && enc != "latin-1") {
			return bad(`(text, "latin1")`)
		}
		b := make(pyBytes, 0, len(s))
		for _, r := range s {
			if r > 0xff {
				return nil, u.errorf(at, "_codecs.encode: %U is not latin-1", r)
			}
			b = append(b, byte(r))
		}
		return b, nil
	}
	return nil, u.errorf(at, "%s may be named but not called", g)
}

// describeArgs summarizes an argument tuple for an error message.
func describeArgs(a pyTuple) string {
	names := make([]string, len(a))
	for i, v := range a {
		names[i] = typeName(v)
	}
	return "(" + strings.Join(names, ", ") + ")"
}

// fillDict copies the items of src (a dict, or a list of pairs) into d.
func fillDict(d *pyDict, src any) error {
	switch s := src.(type) {
	case *pyDict:
		for i, k := range s.keys {
			d.set(k, s.vals[i])
		}
		return nil
	case *pyList:
		for _, it := range s.items {
			var kv []any
			switch p := it.(type) {
			case pyTuple:
				kv = p
			case *pyList:
				kv = p.items
			}
			if len(kv) != 2 {
				return fmt.Errorf("an item of type %s is not a key/value pair", typeName(it))
			}
			d.set(kv[0], kv[1])
		}
		return nil
	}
	return fmt.Errorf("want a dict or a list of pairs")
}

// rebuildTensor checks the arguments of _rebuild_tensor(_v2) and makes the
// tensor reference; the view is checked against its storage later, when the
// storage's size is known for certain.
func (u *unpickler) rebuildTensor(at int, g *pyGlobal, a pyTuple) (any, error) {
	st, ok := a[0].(*storageRef)
	if !ok {
		return nil, u.errorf(at, "%s: the storage argument is a %s", g, typeName(a[0]))
	}
	off, ok := a[1].(int64)
	if !ok || off < 0 {
		return nil, u.errorf(at, "%s: bad storage offset %s", g, describeValue(a[1]))
	}
	shape, err := intTuple(a[2])
	if err != nil {
		return nil, u.errorf(at, "%s: size: %v", g, err)
	}
	stride, err := intTuple(a[3])
	if err != nil {
		return nil, u.errorf(at, "%s: stride: %v", g, err)
	}
	if len(shape) != len(stride) {
		return nil, u.errorf(at, "%s: size %v and stride %v differ in length", g, shape, stride)
	}
	return &tensorRef{storage: st, offset: off, shape: shape, stride: stride}, nil
}

// intTuple converts a tuple of non-negative integers.
func intTuple(v any) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("a %s, want a tuple of integers", typeName(v))
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok {
			if _, big := x.(*big.Int); big {
				return nil, fmt.Errorf("dimension %d is an absurdly large integer", i)
			}
			return nil, fmt.Errorf("dimension %d is a %s", i, typeName(x))
		}
		if n < 0 {
			return nil, fmt.Errorf("dimension %d is negative (%d)", i, n)
		}
		out[i] = n
	}
	return out, nil
}

// describeValue shows a small value for an error message.
func describeValue(v any) string {
	switch v := v.(type) {
	case int64, float64, bool, nil:
		return fmt.Sprint(v)
	case string:
		return fmt.Sprintf("%q", clip(v))
	}
	return "of type " + typeName(v)
}

// newObj runs NEWOBJ (cls.__new__(cls, *args)): only the dict-like types
// and sets may be created so.
func (u *unpickler) newObj(at int, cls, args, kwargs any) (any, error) {
	g, ok := cls.(*pyGlobal)
	if !ok {
		return nil, u.errorf(at, "NEWOBJ of a %s", typeName(cls))
	}
	if kwargs != nil {
		if d, ok := kwargs.(*pyDict); !ok || len(d.keys) != 0 {
			return nil, u.errorf(at, "NEWOBJ_EX of %s with keyword arguments", g)
		}
	}
	if _, ok := args.(pyTuple); !ok {
		return nil, u.errorf(at, "NEWOBJ of %s with a %s of arguments", g, typeName(args))
	}
	switch g.kind {
	case gOrderedDict, gAttributeDict, gNamespace:
		// __new__ ignores its arguments; the items follow as SETITEMS or,
		// for a Namespace, as BUILD.
		return newDict(g.name), nil
	case gSet:
		return &pySet{}, nil
	}
	return nil, u.errorf(at, "%s may not be instantiated", g)
}

// build runs BUILD: obj.__setstate__(state) or obj.__dict__.update(state).
func (u *unpickler) build(at int, obj, state any) error {
	d, ok := obj.(*pyDict)
	if !ok {
		return u.errorf(at, "BUILD on a %s", typeName(obj))
	}
	// The state may be a dict, or a (dict, slots dict) pair.
	var attrs []*pyDict
	switch s := state.(type) {
	case *pyDict:
		attrs = append(attrs, s)
	case pyTuple:
		if len(s) != 2 {
			return u.errorf(at, "BUILD on a %s with a %d-tuple state", d.typeName, len(s))
		}
		for _, x := range s {
			switch x := x.(type) {
			case nil:
			case *pyDict:
				attrs = append(attrs, x)
			default:
				return u.errorf(at, "BUILD on a %s with a %s in its state", d.typeName, typeName(x))
			}
		}
	case nil:
	default:
		return u.errorf(at, "BUILD on a %s with a %s state", d.typeName, typeName(state))
	}
	if d.typeName != "Namespace" {
		// Instance attributes of a dict (OrderedDict's _metadata, the
		// version numbers of each module's state_dict layout) are not
		// items; nothing here needs them.
		return nil
	}
	// A Namespace's attributes are what it holds.
	for _, a := range attrs {
		for i, k := range a.keys {
			d.set(k, a.vals[i])
		}
	}
	return nil
}
