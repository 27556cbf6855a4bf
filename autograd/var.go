package autograd

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"weak"

	"github.com/vmdls-go/vmdls/tensor"
)

// Var is a tensor in a computation graph: its value, the gradient accumulated
// into it by Backward (leaves only), and, for results of ops, the record of
// how to differentiate the op that made it.
type Var struct {
	value        *tensor.Tensor
	grad         *tensor.Tensor
	requiresGrad bool
	node         *node // nil for leaves
	// accum is the graph's handle on a leaf that requires gradients, made
	// the first time an op consumes the leaf.
	accum *node
}

// node is a vertex of the graph: the record one op leaves, or the
// accumulator of a leaf. The graph links nodes, never Vars, so an op's
// output value stays alive only while its user holds it or some op's
// backward needs it, as in PyTorch: an intermediate result that no
// backward reads is freed as soon as the forward pass is done with it.
type node struct {
	op string
	// inputs has one entry per input of the op: its node, or nil where the
	// input needs no gradient.
	inputs []*node
	// backward maps the gradient of the op's output to the gradients of its
	// inputs, in order; it returns nil for an input that needs none.
	backward func(g *tensor.Tensor) []*tensor.Tensor
	// leaf is set on a leaf's accumulator, which receives its gradient.
	leaf     *Var
	released bool
	// value is the op's output, weakly, so that Backward with
	// RecycleValues can hand its storage back when it releases the node
	// without keeping alive a value no backward needs; owned says the
	// output has storage of its own, not a view of an input's.
	value weak.Pointer[tensor.Tensor]
	owned bool
}

// gradNode returns the node gradients for v flow into, or nil when v needs
// none.
func (v *Var) gradNode() *node {
	switch {
	case v.node != nil:
		return v.node
	case !v.requiresGrad:
		return nil
	case v.accum == nil:
		v.accum = &node{op: "leaf", leaf: v}
	}
	return v.accum
}

// NewVar makes a leaf of the graph holding t. Gradients flow into a leaf
// (and into the graph below results computed from it) only when
// requiresGrad is true.
func NewVar(t *tensor.Tensor, requiresGrad bool) *Var {
	return &Var{value: t, requiresGrad: requiresGrad}
}

// Param is NewVar(t, true): a trainable leaf.
func Param(t *tensor.Tensor) *Var { return NewVar(t, true) }

// Const is NewVar(t, false): a leaf that receives no gradient.
func Const(t *tensor.Tensor) *Var { return NewVar(t, false) }

// Value returns the tensor the Var holds (shared, not a copy).
func (v *Var) Value() *tensor.Tensor { return v.value }

// Grad returns the gradient accumulated by Backward, or nil if none has
// reached this Var. Only leaves keep gradients, as in PyTorch.
func (v *Var) Grad() *tensor.Tensor { return v.grad }

// ZeroGrad drops the accumulated gradient (PyTorch's zero_grad with
// set_to_none), so the next Backward starts from nothing.
func (v *Var) ZeroGrad() { v.grad = nil }

// RequiresGrad reports whether gradients flow to or through this Var.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad freezes (false) or unfreezes (true) a leaf. It panics on a
// result of an op, whose flag follows from its inputs.
func (v *Var) SetRequiresGrad(on bool) {
	if v.node != nil {
		panic("autograd: SetRequiresGrad on a non-leaf Var (result of " + v.node.op + "); detach it first")
	}
	v.requiresGrad = on
}

// IsLeaf reports whether v was made by NewVar or Detach rather than by an op.
func (v *Var) IsLeaf() bool { return v.node == nil }

// Detach returns a leaf sharing v's value that does not require gradients:
// what flows from it is cut off from v's graph.
func (v *Var) Detach() *Var { return &Var{value: v.value} }

// Shape returns the shape of v's value.
func (v *Var) Shape() []int { return v.value.Shape() }

// String describes the Var: its op (or leaf) and its value.
func (v *Var) String() string {
	kind := "leaf"
	if v.node != nil {
		kind = v.node.op
	}
	return fmt.Sprintf("Var(%s, requiresGrad=%v, %v)", kind, v.requiresGrad, v.value)
}

var noGradDepth atomic.Int32

// NoGrad runs fn with gradient recording off: Vars made inside are leaves
// that do not require gradients, and no graph is kept, as in PyTorch's
// torch.no_grad(). The setting is process-wide (Go has no goroutine-local
// state), so do not train in one goroutine while another runs NoGrad.
func NoGrad(fn func()) {
	noGradDepth.Add(1)
	defer noGradDepth.Add(-1)
	fn()
}

// GradEnabled reports whether ops record the graph (false inside NoGrad).
func GradEnabled() bool { return noGradDepth.Load() == 0 }

// record makes the Var holding an op's result and, when gradients are on and
// some input requires them, the graph node that differentiates it.
func record(op string, value *tensor.Tensor, backward func(g *tensor.Tensor) []*tensor.Tensor, inputs ...*Var) *Var {
	out := &Var{value: value}
	if !GradEnabled() {
		return out
	}
	var edges []*node
	for i, in := range inputs {
		if n := in.gradNode(); n != nil {
			if edges == nil {
				edges = make([]*node, len(inputs))
			}
			edges[i] = n
		}
	}
	if edges != nil {
		out.requiresGrad = true
		out.node = &node{op: op, inputs: edges, backward: backward, value: weak.Make(value), owned: true}
		for _, in := range inputs {
			if tensor.SameStorage(in.value, value) {
				out.node.owned = false
				break
			}
		}
	}
	return out
}

// recordsGraph reports whether record will make a node for an op on
// inputs: gradients are on and some input requires them. Ops whose result
// nothing will differentiate may then take faster, less exact paths
// (tensor.ConvOptions.ForwardOnly).
func recordsGraph(inputs []*Var) bool {
	if !GradEnabled() {
		return false
	}
	for _, in := range inputs {
		if in.requiresGrad {
			return true
		}
	}
	return false
}

// ErrReleased is returned by Backward through a graph that an earlier
// Backward has already walked and released.
var ErrReleased = errors.New("autograd: the graph was released by an earlier Backward")

// Backward computes the gradient of v, a single-element Var, with respect to
// every leaf that requires gradients and lies below v in the graph, and adds
// it to those leaves' Grad. The graph below v is released.
func (v *Var) Backward(opts ...BackwardOption) error {
	if v.value.Numel() != 1 {
		return fmt.Errorf("autograd: Backward needs a single-element Var, got shape %v; use BackwardWith", v.value.Shape())
	}
	return v.BackwardWith(tensor.OnesLike(v.value), opts...)
}

// A BackwardOption changes what Backward does besides computing gradients.
type BackwardOption func(*backwardSettings)

type backwardSettings struct {
	recycle bool
	mark    uint64
	keep    []*tensor.Tensor
}

// RecycleValues makes Backward hand the storage of the values computed in
// the forward pass back for reuse (tensor.RecycleStep) as it releases the
// graph, so that a training loop's next step takes its activations from
// the cache, uncleared where an op overwrites them, instead of allocating
// and clearing gigabytes afresh. mark is tensor.AllocMark taken before the
// forward pass: storage made before it (parameters, the input batch, a
// model's buffers) is never touched.
//
// It is a promise by the caller that once Backward returns, no value of
// the graph below the root will be used again, neither the Vars nor their
// Value tensors nor any slice Data returned for them, except the root and
// the Vars in keep (a loss part to log, an output to measure): their
// storage, and any storage they share, is left alone. Backward then also
// trims the cache (tensor.TrimRecycled(mark)) of storage the step did not
// ask for.
func RecycleValues(mark uint64, keep ...*Var) BackwardOption {
	return func(s *backwardSettings) {
		s.recycle, s.mark = true, mark
		for _, k := range keep {
			s.keep = append(s.keep, k.value)
		}
	}
}

// BackwardWith is Backward from a Var of any shape, seeded with grad (the
// gradient of some scalar with respect to v), like PyTorch's
// tensor.backward(gradient).
func (v *Var) BackwardWith(grad *tensor.Tensor, opts ...BackwardOption) error {
	var set backwardSettings
	for _, o := range opts {
		o(&set)
	}
	if set.recycle {
		set.keep = append(set.keep, v.value)
	}
	if !v.requiresGrad {
		return fmt.Errorf("autograd: Backward from a Var that does not require gradients (shape %v)", v.value.Shape())
	}
	if !slices.Equal(grad.Shape(), v.value.Shape()) {
		return fmt.Errorf("autograd: BackwardWith: gradient shape %v does not match the Var's shape %v", grad.Shape(), v.value.Shape())
	}
	order, err := topoOrder(v.gradNode())
	if err != nil {
		return err
	}
	// Gradients made during this walk (after mark) and consumed by it are
	// recycled (tensor.Recycle) as soon as nothing the walk still holds
	// shares their storage, so a step's backward reuses a few buffers
	// instead of allocating one per op. The seed grad and every tensor from
	// before the walk (forward values an op's backward may hand on) are
	// older than mark and never recycled.
	mark := tensor.AllocMark()
	grads := map[*node]*tensor.Tensor{order[0]: grad}
	var dead []*tensor.Tensor
	for _, n := range order {
		g, ok := grads[n]
		if !ok {
			continue
		}
		delete(grads, n)
		dead = dead[:0]
		if u := n.leaf; u != nil {
			switch {
			case u.grad != nil:
				u.grad.AddInPlace(g)
				dead = append(dead, g)
			case tensor.MadeSince(g, mark) && ownedBy(g, grads):
				u.grad = g // made by this walk and no longer shared: keep it, uncopied
			default:
				u.grad = g.Clone()
			}
		} else {
			ins := n.backward(g)
			dead = append(dead, g)
			for i, in := range n.inputs {
				if in == nil || ins[i] == nil {
					continue
				}
				if prev, ok := grads[in]; ok {
					if accumulates(prev, in, mark, ins, grads) {
						prev.AddInPlace(ins[i])
						dead = append(dead, ins[i])
					} else {
						grads[in] = tensor.Add(prev, ins[i])
						dead = append(dead, prev, ins[i])
					}
				} else {
					grads[in] = ins[i]
				}
			}
			// Release what the op saved; the Var stays usable as a value.
			n.backward, n.inputs, n.released = nil, nil, true
			if set.recycle {
				recycleValue(n, &set, grads, ins)
			}
		}
		// A returned gradient may be g itself or a view of it (identity,
		// reshape), and one tensor may go to several inputs: only storage
		// no live gradient shares is recycled, each once.
		for i, t := range dead {
			if ownedBy(t, grads) && !sharedWithin(dead[:i], t) {
				// Gradients stay bound by the cache's size even in a
				// RecycleValues step: cached as step storage, they sat idle
				// through the next forward pass and raised DenseNet's peak
				// by a fifth, for no measurable gain.
				tensor.Recycle(t, mark)
			}
		}
	}
	if set.recycle {
		tensor.TrimRecycled(set.mark)
	}
	return nil
}

// recycleValue hands the storage of node n's output back for the next step
// (RecycleValues) if n made it in the forward pass, it is still in memory,
// and nothing still needs it: no kept Var shares it, and neither does a
// gradient the walk holds or is handing on (a backward may pass a forward
// value on as a gradient). Every op that reads the value in its backward
// consumes it and so came before n in the walk.
func recycleValue(n *node, set *backwardSettings, grads map[*node]*tensor.Tensor, ins []*tensor.Tensor) {
	if !n.owned {
		return
	}
	t := n.value.Value()
	if t == nil || !tensor.MadeSince(t, set.mark) || sharedWithin(set.keep, t) || sharedWithin(ins, t) || !ownedBy(t, grads) {
		return
	}
	tensor.RecycleStep(t, set.mark)
}

// accumulateInPlace is off only in tests, to count what it saves.
var accumulateInPlace = true

// accumulates reports whether the gradient prev, held for node in, may
// have another gradient added into it in place instead of into a new
// tensor (a residual block's input gets two): this walk made it, and
// nothing else the walk holds or is handing on shares its storage, neither
// the op's input gradients ins nor another node's gradient. (The consumed
// gradient may: the op's backward is done with it.)
func accumulates(prev *tensor.Tensor, in *node, mark uint64, ins []*tensor.Tensor, grads map[*node]*tensor.Tensor) bool {
	if !accumulateInPlace || !tensor.MadeSince(prev, mark) || sharedWithin(ins, prev) {
		return false
	}
	for n, h := range grads {
		if n != in && tensor.SameStorage(h, prev) {
			return false
		}
	}
	return true
}

// ownedBy reports whether no gradient the walk still holds shares t's
// storage.
func ownedBy(t *tensor.Tensor, grads map[*node]*tensor.Tensor) bool {
	for _, h := range grads {
		if tensor.SameStorage(h, t) {
			return false
		}
	}
	return true
}

// sharedWithin reports whether one of ts (nil entries skipped: an op's
// input gradients have them) shares t's storage.
func sharedWithin(ts []*tensor.Tensor, t *tensor.Tensor) bool {
	for _, u := range ts {
		if u != nil && tensor.SameStorage(u, t) {
			return true
		}
	}
	return false
}

// topoOrder lists the nodes below root, root first and each after every
// node that consumes it (reverse post-order of a depth-first walk,
// iterative so that deep graphs do not exhaust the stack).
func topoOrder(root *node) ([]*node, error) {
	type frame struct {
		n    *node
		next int
	}
	visited := map[*node]bool{root: true}
	var post []*node
	stack := []frame{{n: root}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		n := top.n
		if n.released {
			return nil, fmt.Errorf("%w (through op %s)", ErrReleased, n.op)
		}
		if top.next < len(n.inputs) {
			in := n.inputs[top.next]
			top.next++
			if in != nil && !visited[in] {
				visited[in] = true
				stack = append(stack, frame{n: in})
			}
			continue
		}
		post = append(post, n)
		stack = stack[:len(stack)-1]
	}
	for i, j := 0, len(post)-1; i < j; i, j = i+1, j-1 {
		post[i], post[j] = post[j], post[i]
	}
	return post, nil
}

// Custom records an op whose forward the caller computed itself (value) and
// whose backward it supplies: backward receives the gradient of the output
// and returns one gradient per input, in order, each of that input's shape
// (nil for an input that needs none). Losses with a cheaper closed-form
// gradient than the composition of their ops use it, e.g. the triplet loss,
// whose ops would materialize millions of triplets.
//
// backward must not keep g, nor a tensor it returns, past the call:
// Backward recycles gradients once consumed (tensor.Recycle), so a kept
// reference would see another tensor's values. Clone what must outlive it.
func Custom(op string, value *tensor.Tensor, backward func(g *tensor.Tensor) []*tensor.Tensor, inputs ...*Var) *Var {
	return record(op, value, backward, inputs...)
}

// DiscardUnrecorded hands the storage of values that a forward pass run
// without a graph (inside NoGrad) has consumed back for reuse
// (tensor.Recycle), so that inference takes each layer's output from the
// storage of one it no longer needs instead of allocating, and clearing,
// a new one: a fifth of a ResNet-18 inference pass went to clearing fresh
// allocations. While a graph is recorded it does nothing, since a backward
// pass may still read them. Only storage made after mark (tensor.AllocMark)
// is taken, so a caller's input stays out of reach; the caller promises
// that neither vs nor any view of their storage will be used again.
func DiscardUnrecorded(mark uint64, vs ...*Var) {
	if GradEnabled() {
		return
	}
	for _, v := range vs {
		if v != nil {
			tensor.Recycle(v.value, mark)
		}
	}
}
