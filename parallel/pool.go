package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The worker pool behind For and ForThreads (and so behind the kernels'
// SGEMM and every other parallel loop of the engine).
//
// A call splits its range into at most Threads() chunks and posts "tickets"
// for its job to a shared queue; idle workers take tickets and claim chunks
// with an atomic counter, and the caller claims chunks too. The caller waits
// only for chunks that were claimed, never for a ticket to be picked up, so
// a call from inside a worker (a nested For, or an SGEMM in a For body) cannot deadlock: when every worker is busy the caller simply runs all
// chunks itself.
//
// Job records are recycled as soon as their call returns, even while stale
// tickets for them wait in the queue: a ticket carries the generation of the
// call it was posted for, the generation sits in the same atomic word as
// the chunk counter, and a claim succeeds only when both match. So a late
// ticket finds either a newer generation or no chunk left and is dropped,
// and steady-state calls allocate nothing however late workers wake up.

var (
	// threadSetting is the value of SetThreads; 0 means GOMAXPROCS.
	threadSetting atomic.Int64

	// tickets carries jobs to workers. It is buffered so that posting never
	// blocks; a full queue just means the caller does more chunks itself.
	tickets = make(chan ticket, 1024)

	workersMu sync.Mutex
	workers   atomic.Int64 // workers started; they live as long as the process

	// freeJobs recycles job records without sync.Pool, whose contents the
	// garbage collector may drop (an allocation per call after each GC).
	freeJobs = make(chan *job, 64)
)

// Threads reports how many workers For splits its work over: the value of
// SetThreads, or GOMAXPROCS when none was set.
func Threads() int {
	if t := int(threadSetting.Load()); t > 0 {
		return t
	}
	return runtime.GOMAXPROCS(0)
}

// SetThreads sets the number of workers For uses (n < 1 means GOMAXPROCS,
// following later changes to it) and returns the previous value of
// Threads. Calls already running keep the count they started with. The
// setting is process-wide, so a program sets it once per run (package ovd
// does so from Config.Threads at the start of Train, TrainAE and Test).
func SetThreads(n int) int {
	if n < 1 {
		n = 0
	}
	prev := Threads()
	threadSetting.Store(int64(n))
	return prev
}

// job is one For call in flight.
type job struct {
	// state packs the generation of the call (high 32 bits), the number of
	// chunks (next 16) and the next chunk to claim (low 16).
	state    atomic.Uint64
	gen      uint32 // owned by the caller: the generation it published
	fn       func(lo, hi int)
	n, chunk int
	done     atomic.Int64 // chunks finished in this generation
	finished chan struct{}
}

type ticket struct {
	j   *job
	gen uint32
}

// MaxChunks is the most chunks one call of For or ForThreads splits its
// range into, whatever the thread count: the chunk counter has 16 bits. A
// caller that sizes its work by the chunks For will make (as the kernels'
// depthwise Winograd does) bounds its count by it too.
const MaxChunks = 1<<16 - 1

func getJob() *job {
	select {
	case j := <-freeJobs:
		return j
	default:
		return &job{finished: make(chan struct{}, 1)}
	}
}

func putJob(j *job) {
	j.fn = nil
	select {
	case freeJobs <- j:
	default:
	}
}

// work claims and runs chunks of generation gen until none is left.
func (j *job) work(gen uint32) {
	for {
		s := j.state.Load()
		if uint32(s>>32) != gen {
			return
		}
		c, nchunks := int(s&0xffff), int(s>>16&0xffff)
		if c >= nchunks {
			return
		}
		if !j.state.CompareAndSwap(s, s+1) {
			continue
		}
		// Claimed: the caller of gen now waits for this chunk, so the
		// fields it set stay put until we are done.
		lo := c * j.chunk
		j.fn(lo, min(lo+j.chunk, j.n))
		if j.done.Add(1) == int64(nchunks) {
			j.finished <- struct{}{}
		}
	}
}

// spinFor is how long a worker polls for the next ticket, and a caller for
// its last chunks, before blocking. Waking a parked goroutine takes from
// tens to hundreds of microseconds on these virtual machines (an idle vCPU
// must be woken), which is more than a small product takes (a 256³ SGEMM is
// about 200µs on one core), so without polling a worker that parked between
// two calls joins each call too late to help. A worker polls for up to 1ms
// after its last chunk: a cost only while the engine is active.
const spinFor = time.Millisecond

func worker() {
	for {
		t, ok := pollTicket()
		if !ok {
			t = <-tickets
		}
		t.j.work(t.gen)
	}
}

// pollTicket polls the queue for up to spinFor.
func pollTicket() (ticket, bool) {
	var start time.Time
	for i := 0; ; i++ {
		select {
		case t := <-tickets:
			return t, true
		default:
		}
		if i%64 == 0 {
			if i == 0 {
				start = time.Now()
			} else if time.Since(start) > spinFor {
				return ticket{}, false
			}
		}
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

// For splits [0, n) into contiguous chunks of at least grain items and
// calls fn(lo, hi) on them from the worker pool, returning when all are
// done. fn must be safe to call concurrently on disjoint ranges. At most
// Threads() chunks are made, of nearly equal size. It may be called from
// several goroutines at once and from inside fn; when no worker is free the
// caller runs the chunks itself. Once the pool is warm a call allocates
// nothing.
func For(n, grain int, fn func(lo, hi int)) {
	ForThreads(Threads(), n, grain, fn)
}

// ForThreads is For with an explicit bound on the number of chunks in place
// of Threads(): for a caller that has already chosen how many parts its
// work splits into (the kernels' SGEMM sizes its packing and its parts by
// the thread count it read once at the start of the call, and must not see
// a SetThreads that lands in between). threads < 1 runs fn(0, n) on the
// caller.
func ForThreads(threads, n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	// Every chunk gets at least grain items, so round the count down.
	nchunks := min(n/grain, threads, MaxChunks)
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
	j.gen++
	j.fn, j.n, j.chunk = fn, n, chunk
	j.done.Store(0)
	// Publishing the new generation releases the fields above to workers.
	j.state.Store(uint64(j.gen)<<32 | uint64(nchunks)<<16)
post:
	for range nchunks - 1 {
		select {
		case tickets <- ticket{j, j.gen}:
		default:
			break post
		}
	}
	j.work(j.gen)
	// The other chunks are running by now; poll for them a while first.
	start := time.Now()
	for i := 1; j.done.Load() < int64(nchunks); i++ {
		if i%64 == 0 && time.Since(start) > spinFor {
			break
		}
	}
	<-j.finished
	putJob(j)
}
