//go:build !unix

package torchfile

// openFlags is empty where there is no O_NONBLOCK; the file is still
// stat'ed before and after it is opened.
const openFlags = 0
