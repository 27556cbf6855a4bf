package ovd

// The warm start of --checkpoint_path: what the reference's main.py does
// when it is given a checkpoint.
//
// main.py builds the model with GMM_VAE_Contrastive.load_from_checkpoint,
// which takes the file's state_dict and nothing else (Lightning's Trainer
// is never handed the file, so the epoch, optimizer and StepLR start
// afresh, and the class statistics, plain attributes rather than buffers,
// are not in it), and then sets the triplet loss's negative margin to
// --margin_max_distance. Every other setting is the command line's.

// warmStart loads the model weights of path into t.model and sets the
// negative margin nu to MarginMaxDistance; the rest of t.st stays that of
// a new run. The margin schedule then runs as it would from there: the
// reference's UpdateMargin raises nu by MarginJump at the start of epoch
// MarginsEpoch when nu <= MarginMaxDistance, so with --margins_epoch 0 the
// first epoch trains at MarginMaxDistance + MarginJump, as the
// reference's does. The file may be a checkpoint Train wrote or the
// reference's (a Lightning .ckpt as it is, or converted): its latent
// heads and encoder must all be there; other keys (the reference's frozen
// "ae.") are ignored.
func (t *trainer) warmStart(path string) error {
	// A FIFO would block the header read below.
	if err := checkRegularFile(path); err != nil {
		return inputErrorf("--checkpoint_path: %w", err)
	}
	if err := CheckCheckpoint(&t.cfg, path); err != nil {
		return &InputError{Err: err}
	}
	if err := loadModelWeights(t.model, path); err != nil {
		return err
	}
	t.st.NegMargin = t.cfg.MarginMaxDistance
	return nil
}
