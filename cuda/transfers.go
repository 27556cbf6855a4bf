package cuda

import "sync/atomic"

// TransferStats counts the tensor data copied between host and device
// through the backend's Upload and Download, the copies a training step on
// the GPU should not need beyond its input batch and the few values it
// reports (a loss, per-batch statistics). The index arrays some primitives
// take in host memory are not counted: they are not tensor data.
type TransferStats struct {
	Uploads, Downloads int64
	BytesUp, BytesDown int64
}

type transferCounter struct {
	uploads, downloads atomic.Int64
	bytesUp, bytesDown atomic.Int64
}

var transfers transferCounter

func (c *transferCounter) up(bytes int) {
	c.uploads.Add(1)
	c.bytesUp.Add(int64(bytes))
}

func (c *transferCounter) down(bytes int) {
	c.downloads.Add(1)
	c.bytesDown.Add(int64(bytes))
}

// Transfers returns the counts since the process started; callers measure a
// span of work by the difference of two snapshots.
func Transfers() TransferStats {
	return TransferStats{
		Uploads: transfers.uploads.Load(), Downloads: transfers.downloads.Load(),
		BytesUp: transfers.bytesUp.Load(), BytesDown: transfers.bytesDown.Load(),
	}
}

// Sub returns the transfers between the snapshot before and t.
func (t TransferStats) Sub(before TransferStats) TransferStats {
	return TransferStats{
		Uploads: t.Uploads - before.Uploads, Downloads: t.Downloads - before.Downloads,
		BytesUp: t.BytesUp - before.BytesUp, BytesDown: t.BytesDown - before.BytesDown,
	}
}
