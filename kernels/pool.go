package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// The worker pool behind ParallelFor and Sgemm.
//
// A call splits its range into at most Threads() chunks and posts "tickets"
// for the job to a shared queue; idle workers take tickets and claim chunks
// with an atomic counter, and the caller claims chunks too. The caller waits
// only for chunks that were claimed, never for a ticket to be picked up, so
// a call from inside a worker (nested ParallelFor, or Sgemm in a ParallelFor
// body) cannot deadlock: when every worker is busy the caller simply runs all
// chunks itself. A ticket taken after its job finished finds no chunk left
// and is dropped. Jobs are recycled once the caller and every posted ticket
// have let go of them, so steady-state calls allocate nothing.

var (
	// threadSetting is the value of SetThreads; 0 means GOMAXPROCS.
	threadSetting atomic.Int64

	// tickets carries jobs to workers. It is buffered so that posting never
	// blocks; a full queue just means the caller does more chunks itself.
	tickets = make(chan *job, 1024)

	workersMu sync.Mutex
	workers   atomic.Int64 // workers started; they live as long as the process

	// freeJobs recycles job records without sync.Pool, whose contents the
	// garbage collector may drop (an allocation per call after each GC).
	freeJobs = make(chan *job, 64)
)

// Threads reports how many workers parallel kernels split their work over:
// the value of SetThreads, or GOMAXPROCS when none was set.
func Threads() int {
	if t := int(threadSetting.Load()); t > 0 {
		return t
	}
	return runtime.GOMAXPROCS(0)
}

// SetThreads sets the number of workers parallel kernels use (n < 1 means
// GOMAXPROCS, following later changes to it) and returns the previous value
// of Threads. Calls already running keep the count they started with.
func SetThreads(n int) int {
	if n < 1 {
		n = 0
	}
	prev := Threads()
	threadSetting.Store(int64(n))
	return prev
}

// job is one ParallelFor call in flight.
type job struct {
	fn       func(lo, hi int)
	n, chunk int
	nchunks  int64
	next     atomic.Int64 // next chunk to claim
	done     atomic.Int64 // chunks finished
	refs     atomic.Int32 // caller plus tickets not yet handled
	finished chan struct{}
}

func getJob() *job {
	select {
	case j := <-freeJobs:
		return j
	default:
		return &job{finished: make(chan struct{}, 1)}
	}
}

// work claims and runs chunks until none is left.
func (j *job) work() {
	for {
		c := j.next.Add(1) - 1
		if c >= j.nchunks {
			return
		}
		lo := int(c) * j.chunk
		j.fn(lo, min(lo+j.chunk, j.n))
		if j.done.Add(1) == j.nchunks {
			j.finished <- struct{}{}
		}
	}
}

func (j *job) release() {
	if j.refs.Add(-1) == 0 {
		j.fn = nil
		select {
		case freeJobs <- j:
		default:
		}
	}
}

func worker() {
	for j := range tickets {
		j.work()
		j.release()
	}
}

func ensureWorkers(n int) {
	workersMu.Lock()
	for workers.Load() < int64(n) {
		workers.Add(1)
		go worker()
	}
	workersMu.Unlock()
}

// ParallelFor splits [0, n) into contiguous chunks of at least grain items
// and calls fn(lo, hi) on them from the worker pool, returning when all are
// done. fn must be safe to call concurrently on disjoint ranges. At most
// Threads() chunks are made, of nearly equal size. It may be called from several goroutines at
// once and from inside fn; when no worker is free the caller runs the
// chunks itself.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	parallelFor(Threads(), n, grain, fn)
}

func parallelFor(threads, n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	// Every chunk gets at least grain items, so round the count down.
	nchunks := min(n/grain, threads)
	if nchunks <= 1 {
		fn(0, n)
		return
	}
	chunk := (n + nchunks - 1) / nchunks
	nchunks = (n + chunk - 1) / chunk
	if workers.Load() < int64(threads-1) {
		ensureWorkers(threads - 1)
	}
	j := getJob()
	j.fn, j.n, j.chunk, j.nchunks = fn, n, chunk, int64(nchunks)
	j.next.Store(0)
	j.done.Store(0)
	j.refs.Store(1)
post:
	for range nchunks - 1 {
		j.refs.Add(1)
		select {
		case tickets <- j:
		default:
			j.refs.Add(-1)
			break post
		}
	}
	j.work()
	<-j.finished
	j.release()
}
