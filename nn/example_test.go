package nn_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// A training loop: forward, loss, Backward, optimizer Step, ZeroGrad. The
// layer fits y = 2·x0 - x1 + 0.5 from 16 seeded samples.
func ExampleSGD() {
	rng := rand.New(rand.NewPCG(1, 2))
	x := tensor.Randn(rng, 16, 2)
	y := tensor.AddScalar(tensor.MatMul(x, tensor.FromSlice([]float32{2, -1}, 2, 1)), 0.5)

	layer := nn.NewLinear(rng, 2, 1, true)
	opt, err := nn.NewSGD(nn.Parameters(layer), nn.SGDOptions{LR: 0.1, Momentum: 0.9})
	if err != nil {
		panic(err)
	}
	for range 300 {
		loss := nn.MSELoss(layer.Forward(autograd.Const(x)), autograd.Const(y))
		if err := loss.Backward(); err != nil {
			panic(err)
		}
		opt.Step()
		opt.ZeroGrad()
	}
	w, b := layer.Weight.Value().Data(), layer.Bias.Value().Data()
	fmt.Printf("w = [%.3f %.3f], b = %.3f\n", w[0], w[1], b[0])
	// Output:
	// w = [2.000 -1.000], b = 0.500
}

// StepLR decays the learning rate every StepSize epochs; call its Step once
// per epoch, after that epoch's optimizer steps.
func ExampleStepLR() {
	p := autograd.Param(tensor.Zeros(1))
	opt, err := nn.NewAdam([]*autograd.Var{p}, nn.DefaultAdamOptions())
	if err != nil {
		panic(err)
	}
	sched, err := nn.NewStepLR(opt, 2, 0.1)
	if err != nil {
		panic(err)
	}
	for epoch := range 5 {
		fmt.Printf("epoch %d lr %g\n", epoch, opt.LR(0))
		sched.Step()
	}
	// Output:
	// epoch 0 lr 0.001
	// epoch 1 lr 0.001
	// epoch 2 lr 0.0001
	// epoch 3 lr 0.0001
	// epoch 4 lr 1e-05
}

// Checkpoints are safetensors files keyed by PyTorch's state_dict names;
// strict loading checks every key and shape.
func ExampleSaveCheckpoint() {
	dir, err := os.MkdirTemp("", "nn-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	rng := rand.New(rand.NewPCG(5, 6))
	net := nn.NewSequential(nn.NewLinear(rng, 4, 3, true), nn.NewReLU(), nn.NewLinear(rng, 3, 2, true))
	if err := nn.SaveCheckpoint(path, net, nil); err != nil {
		panic(err)
	}
	for _, kv := range nn.StateDict(net) {
		fmt.Println(kv.Name, kv.Value.Shape())
	}

	other := nn.NewSequential(nn.NewLinear(rng, 4, 3, true), nn.NewReLU(), nn.NewLinear(rng, 3, 2, true))
	if _, _, err := nn.LoadCheckpoint(path, other, true); err != nil {
		panic(err)
	}
	fmt.Println(tensor.AllClose(other.Forward(autograd.Const(tensor.Ones(1, 4))).Value(),
		net.Forward(autograd.Const(tensor.Ones(1, 4))).Value(), 0, 0))
	// Output:
	// 0.weight [3 4]
	// 0.bias [3]
	// 2.weight [2 3]
	// 2.bias [2]
	// true
}
