package ovd

import "time"

// Event is one progress report of a long-running phase. The ovd package
// never prints: it hands events to the caller's Observer, and the command
// line turns them into live lines, plain log lines and metrics.jsonl.
type Event struct {
	// Phase is "train", "validate", "fit", "score" or "train-ae".
	Phase string
	// Epoch counts from 1 to Epochs; 0 for phases outside epochs.
	Epoch, Epochs int
	// Step counts the batches of the phase from 1 to Steps. The phases
	// that count images (fit, score, validate) leave Step 0 and give
	// their total of images as Steps.
	Step, Steps int
	// Images is how many images the phase has processed so far.
	Images int
	// Elapsed is the time since the phase started.
	Elapsed time.Duration
	// Values holds the numbers of the moment: loss parts ("loss",
	// "triplet", "kl"), "lr", "neg_margin", validation metrics, ...
	Values map[string]float64
	// EpochEnd marks the last event of an epoch (or of a phase without
	// epochs); its Values are the epoch's summary.
	EpochEnd bool
}

// Observer receives progress events; nil discards them.
type Observer func(Event)

func (o Observer) emit(e Event) {
	if o != nil {
		o(e)
	}
}
