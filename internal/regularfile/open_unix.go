//go:build unix

package regularfile

import "syscall"

// openFlags keeps open from blocking on a FIFO that replaced the path after
// it was stat'ed; for the regular file expected it changes nothing.
const openFlags = syscall.O_NONBLOCK
