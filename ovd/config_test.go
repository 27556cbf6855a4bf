package ovd

import (
	"strings"
	"testing"
)

// validMNIST is DefaultConfig set up for mnist-conv on MNIST, which
// passes Validate.
func validMNIST() Config {
	c := DefaultConfig()
	c.EncType, c.EncOutDim, c.LatentDim = "mnist-conv", 500, 32
	return c
}

// TestValidateMethodChecks checks that a library caller of Train or Test
// gets the checks the command line makes, with the flag named.
func TestValidateMethodChecks(t *testing.T) {
	if c := validMNIST(); c.Validate() != nil || c.ValidateAE() != nil {
		t.Fatalf("the MNIST setup fails: %v, %v", c.Validate(), c.ValidateAE())
	}
	for _, tc := range []struct {
		edit func(c *Config)
		want string
	}{
		{func(c *Config) { c.EncType = "resnet101" }, `--enc_type "resnet101": want one of mnist-conv, vgg, resnet18, densenet, wresnet, resnet50, mnist, cifar`},
		{func(c *Config) { c.EncOutDim = 512 }, "--enc_out_dim 512 does not match --enc_type mnist-conv, whose output width is 500"},
		{func(c *Config) { c.InputHeight = 32 }, "--input_height 32: the mnist-conv encoder takes 28x28 images"},
		{func(c *Config) { c.KnownDataset = "omniglot" }, `--known_dataset "omniglot": want one of`},
		{func(c *Config) { c.KnownDataset = "cifar_known" }, "--known_dataset cifar_known has 3x32x32 images but --enc_type mnist-conv takes 1x28x28"},
		{func(c *Config) { c.ClassNum = 11 }, "--class_num 11: mnist has 10 classes; want 2..10"},
		{func(c *Config) { c.UnknownDataset = "nope" }, `--unknown_dataset "nope": want one of`},
		{func(c *Config) { c.DataTransforms = "nope" }, `--data_transforms "nope": want one of`},
		{func(c *Config) { c.TrainLimit = -1 }, "--train_limit -1: want 0 (no limit) or more"},
		{func(c *Config) { c.MarginMaxDistance = 0 }, "--margin_max_distance 0: want a positive distance"},
		{func(c *Config) { c.KLCoeff = -1 }, "--kl_coeff -1: want 0 or more"},
		{func(c *Config) { c.LatentOnly, c.AEFeatures = true, true }, "--latent_only scores mu alone"},
	} {
		c := validMNIST()
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate: %v, want %q", err, tc.want)
		}
	}
	c := validMNIST()
	c.EncType, c.EncOutDim, c.InputHeight, c.KnownDataset = "vgg", 1024, 32, "cifar_known"
	if err := c.ValidateAE(); err == nil || !strings.Contains(err.Error(), "the autoencoders are mnist-conv (MNIST), resnet18 (CIFAR-10) and resnet50 (CIFAR-100)") {
		t.Errorf("ValidateAE of vgg: %v", err)
	}
	c = validMNIST()
	c.UnknownDataset = "nope"
	if err := c.ValidateAE(); err != nil {
		t.Errorf("ValidateAE checks the unknown set, which the autoencoder does not use: %v", err)
	}
}

// TestAETransformsPerDataset checks that an empty --ae_transforms means the
// reference's pipeline for the known dataset: unnormalized for the MNIST
// family, pl_bolts' CIFAR normalization for the CIFAR sets, and that a
// given one wins.
func TestAETransformsPerDataset(t *testing.T) {
	for ds, want := range map[string]string{"mnist": "toy", "fashion_mnist": "toy", "cifar_known": "bolts_cifar", "cifar100_known": "bolts_cifar"} {
		c := DefaultAEConfig()
		c.KnownDataset = ds
		if got := c.aeTransforms(); got != want {
			t.Errorf("%s: ae transforms %q, want %q", ds, got, want)
		}
		c.AETransforms = "cifar_test"
		if got := c.aeTransforms(); got != "cifar_test" {
			t.Errorf("%s with --ae_transforms cifar_test: %q", ds, got)
		}
	}
}
