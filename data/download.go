package data

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RemoteFile is one file of a dataset as its authors publish it.
type RemoteFile struct {
	Name string
	// URLs are tried in order (mirrors).
	URLs []string
	// MD5 and SHA256 are the known sums (hex); either may be empty. A file
	// with neither is downloaded but reported as unverified.
	MD5, SHA256 string
	// Size is the file's length in bytes when known (0: unknown). A download
	// stops with an error as soon as the body runs past it, and a stored file
	// of another length fails verification without being hashed.
	Size int64
}

// Remote is the set of files a dataset needs and the folder under the data
// directory they go in.
type Remote struct {
	Folder string
	Files  []RemoteFile
}

// idxNames are the four files of an MNIST-style dataset, in Remote order.
var idxNames = [4]string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}

func idxRemote(folder string, mirrors []string, sums [4]string, sizes [4]int64) Remote {
	r := Remote{Folder: folder}
	for i, n := range idxNames {
		var urls []string
		for _, m := range mirrors {
			urls = append(urls, m+n)
		}
		r.Files = append(r.Files, RemoteFile{Name: n, URLs: urls, MD5: sums[i], Size: sizes[i]})
	}
	return r
}

// Remotes lists where each downloadable dataset comes from: the URLs and
// sums torchvision uses (MNIST family, CIFAR, Omniglot) and the ODIN
// project's out-of-distribution tarballs. ODIN publishes no sums; theirs are
// the MD5s other OOD libraries (pytorch-ood) check the same Dropbox files
// against.
//
// Every URL is HTTPS where its host serves HTTPS: yann.lecun.com and
// codh.rois.ac.jp do (other loaders moved to https:// for them); Amazon S3
// website endpoints such as fashion-mnist's cannot, so Fashion-MNIST is taken
// first from the copy its authors keep in their GitHub repository
// (data/fashion, the same files and MD5s) and the S3 site is the plain-HTTP
// fallback, trusted only through the sums. The sizes are those of the
// published files; where no size is listed, MaxDownloadBytes bounds the body.
var Remotes = map[string]Remote{
	"mnist": func() Remote {
		r := idxRemote("mnist", []string{"https://ossci-datasets.s3.amazonaws.com/mnist/", "https://yann.lecun.com/exdb/mnist/"},
			[4]string{"f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432", "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"},
			[4]int64{9912422, 28881, 1648877, 4542})
		sha := []string{"440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
			"8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"}
		for i := range r.Files {
			r.Files[i].SHA256 = sha[i]
		}
		return r
	}(),
	"fashion_mnist": idxRemote("fashion_mnist", []string{"https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"},
		[4]string{"8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe", "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"},
		[4]int64{26421880, 29515, 4422102, 5148}),
	"kmnist": idxRemote("kmnist", []string{"https://codh.rois.ac.jp/kmnist/dataset/kmnist/"},
		[4]string{"bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344", "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134"},
		[4]int64{18165135, 0, 0, 0}),
	"omniglot": {Folder: "omniglot", Files: []RemoteFile{
		{Name: "images_background.zip", URLs: []string{"https://raw.githubusercontent.com/brendenlake/omniglot/master/python/images_background.zip"}, MD5: "68d2efa1b9178cc56df9314c21c6e718", Size: 9464212},
		{Name: "images_evaluation.zip", URLs: []string{"https://raw.githubusercontent.com/brendenlake/omniglot/master/python/images_evaluation.zip"}, MD5: "6b91aef0f799c5bb55b94e3f2daec811", Size: 6462886},
	}},
	"cifar10": {Folder: "cifar10", Files: []RemoteFile{
		{Name: "cifar-10-binary.tar.gz", URLs: []string{"https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"}, MD5: "c32a1d4ab5d03f1284b67883e8d87530", Size: 170052171},
	}},
	"cifar100": {Folder: "cifar100", Files: []RemoteFile{
		{Name: "cifar-100-binary.tar.gz", URLs: []string{"https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"}, MD5: "03b5dce01913d631647c71ecec9e9cb8", Size: 168513733},
	}},
	"imagenet-crop": {Folder: "openset", Files: []RemoteFile{
		{Name: "Imagenet.tar.gz", URLs: []string{"https://www.dropbox.com/s/avgm2u562itwpkl/Imagenet.tar.gz?dl=1"}, MD5: "7c0827e4246c3718a5ee076e999e52e5"},
	}},
	"imagenet-resize": {Folder: "openset", Files: []RemoteFile{
		{Name: "Imagenet_resize.tar.gz", URLs: []string{"https://www.dropbox.com/s/kp3my3412u5k9rl/Imagenet_resize.tar.gz?dl=1"}, MD5: "0f9ff11d45babf2eff5fe12281d1ac31"},
	}},
	"lsun-crop": {Folder: "openset", Files: []RemoteFile{
		{Name: "LSUN.tar.gz", URLs: []string{"https://www.dropbox.com/s/fhtsw1m3qxlwj6h/LSUN.tar.gz?dl=1"}, MD5: "458a0a0ab8e5f1cb4516d7400568e460"},
	}},
	"lsun-resize": {Folder: "openset", Files: []RemoteFile{
		{Name: "LSUN_resize.tar.gz", URLs: []string{"https://www.dropbox.com/s/moqh2wh8696c3yl/LSUN_resize.tar.gz?dl=1"}, MD5: "278b7b31c8cb7e804a1465a8ce03a2dc"},
	}},
}

// KnownFiles are the sums of files the loaders read that no Remote
// downloads, keyed by file name: the lossless NumPy conversion of the
// Omniglot zips (github.com/bitsandscraps/omniglot at commit b0481240, whose
// .sha256 files these are). VerifyDataset checks them; no URL is listed
// because this package does not fetch them.
var KnownFiles = map[string]RemoteFile{
	"images_background.npz": {Name: "images_background.npz", SHA256: "8bf84167413cd00beacdce3fe582f780ab538d8dbef043a6d688f2527bbce199", Size: 3340794},
	"images_evaluation.npz": {Name: "images_evaluation.npz", SHA256: "0b84c7ffd94c4841c0040e529c86a82eaaccb986d8eadad5673f7991b7475276", Size: 2415269},
}

// remoteKey maps a dataset name to the Remotes entry holding its files.
func remoteKey(name string) string {
	switch name {
	case "mnist", "mnist_noise":
		return "mnist"
	case "cifar10", "cifar_known", "cifar_unknown":
		return "cifar10"
	case "cifar100", "cifar100_known", "cifar100_unknown":
		return "cifar100"
	}
	return name
}

// RemoteFor returns the files dataset name needs, if it has any to fetch.
func RemoteFor(name string) (Remote, bool) {
	r, ok := Remotes[remoteKey(name)]
	return r, ok
}

// RemoteNames lists the names Fetch accepts, sorted.
func RemoteNames() []string {
	var out []string
	for k := range Remotes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// MissingError reports a dataset file that is not on disk and was not
// downloaded: what to fetch, from where, and where to put it. File is the
// file the requested split needs first; AlsoMissing lists the dataset's other
// files that are absent from Folder too.
type MissingError struct {
	Dataset, File, Folder, URL string
	AlsoMissing                []string
	Err                        error
}

// Error says what is missing and how to get it.
func (e *MissingError) Error() string {
	s := fmt.Sprintf("data: %s: %s not found in %s; download %s and put it in %s (or run `vmdls data fetch %s --data_dir DIR`)",
		e.Dataset, e.File, e.Folder, e.URL, e.Folder, e.Dataset)
	if len(e.AlsoMissing) > 0 {
		s += "; also missing there: " + strings.Join(e.AlsoMissing, ", ")
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the download error, if a download was tried.
func (e *MissingError) Unwrap() error { return e.Err }

// missingFor builds the MissingError of dataset name whose opener looked
// for file (a Remote file name) in dir and did not find it.
func missingFor(name, dir, file string) (*MissingError, bool) {
	r, ok := RemoteFor(name)
	if !ok {
		return nil, false
	}
	folder := filepath.Join(dir, r.Folder)
	rf := r.Files[0]
	for _, f := range r.Files {
		if f.Name == file {
			rf = f
		}
	}
	e := &MissingError{Dataset: name, File: rf.Name, Folder: folder, URL: rf.URLs[0]}
	for _, f := range r.Files {
		if f.Name == rf.Name {
			continue
		}
		if _, err := os.Stat(filepath.Join(folder, f.Name)); err != nil {
			e.AlsoMissing = append(e.AlsoMissing, f.Name)
		}
	}
	return e, true
}

// ChecksumError reports a downloaded or stored file whose sum is wrong.
type ChecksumError struct {
	File, Algo, Want, Got string
}

// Error names the file and both sums.
func (e *ChecksumError) Error() string {
	return fmt.Sprintf("data: %s: %s is %s, want %s", e.File, e.Algo, e.Got, e.Want)
}

// Download limits. DefaultStallTimeout is how long a download may go
// without receiving a byte (the wait for the response headers included)
// before it is abandoned; MaxDownloadBytes bounds the body of a file whose
// size is not known (the ODIN tarballs of 10,000 small JPEGs, a few KMNIST
// files; the largest file listed, CIFAR-10's, is 170 MB and has a known
// size), so an endless or lying server cannot fill the disk.
var (
	DefaultStallTimeout       = 60 * time.Second
	MaxDownloadBytes    int64 = 256 << 20
)

// defaultClient is the client a Fetcher without one uses: bounded connect,
// TLS handshake and header waits (http.DefaultClient waits forever), and no
// redirect from HTTPS down to plain HTTP.
var defaultClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	},
	CheckRedirect: refuseDowngrade,
}

// refuseDowngrade follows at most 10 redirects, none from https to http.
func refuseDowngrade(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if prev := via[len(via)-1]; prev.URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing redirect from %s to insecure %s", prev.URL, req.URL)
	}
	return nil
}

// Fetcher downloads dataset files.
type Fetcher struct {
	// Client is the HTTP client; nil means one with connect, TLS handshake
	// and response header timeouts that refuses HTTPS-to-HTTP redirects.
	Client *http.Client
	// Log, when not nil, receives one line per file fetched or verified.
	Log io.Writer
	// StallTimeout abandons a download that receives nothing for this long
	// (also while waiting for the response); 0 means DefaultStallTimeout.
	// It applies whatever the Client.
	StallTimeout time.Duration
}

func (f *Fetcher) logf(format string, args ...any) {
	if f.Log != nil {
		fmt.Fprintf(f.Log, format+"\n", args...)
	}
}

// Fetch makes sure every file of dataset name is in dir/<folder>, verified
// against its known sums, downloading what is missing.
func (f *Fetcher) Fetch(ctx context.Context, dir, name string) error {
	r, ok := RemoteFor(name)
	if !ok {
		return fmt.Errorf("data: nothing to download for %q (downloadable: %s)", name, strings.Join(RemoteNames(), ", "))
	}
	folder := filepath.Join(dir, r.Folder)
	for _, rf := range r.Files {
		if err := f.FetchFile(ctx, rf, folder); err != nil {
			return &MissingError{Dataset: name, File: rf.Name, Folder: folder, URL: rf.URLs[0], Err: err}
		}
	}
	return nil
}

// Verify checks the files of dataset name already in dir against their
// sums, without downloading.
func Verify(dir, name string) error {
	r, ok := RemoteFor(name)
	if !ok {
		return fmt.Errorf("data: no known files for %q", name)
	}
	for _, rf := range r.Files {
		p := filepath.Join(dir, r.Folder, rf.Name)
		if _, err := os.Stat(p); err != nil {
			return &MissingError{Dataset: name, File: rf.Name, Folder: filepath.Join(dir, r.Folder), URL: rf.URLs[0]}
		}
		if err := checkSums(p, rf); err != nil {
			return err
		}
	}
	return nil
}

// FetchFile makes sure rf is at folder/rf.Name with the right sums. A
// download goes to folder/rf.Name+".part"; an existing .part is resumed with
// an HTTP Range request, and the finished file is synced and renamed into
// place, so the final name only ever holds a whole, verified file. A .part
// whose sum comes out wrong is deleted so the next try starts afresh.
func (f *Fetcher) FetchFile(ctx context.Context, rf RemoteFile, folder string) error {
	dest := filepath.Join(folder, rf.Name)
	if _, err := os.Stat(dest); err == nil {
		if err := checkSums(dest, rf); err != nil {
			return err
		}
		f.logf("%s: present, verified", dest)
		return nil
	}
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return err
	}
	var lastErr error
	for _, url := range rf.URLs {
		part := dest + ".part"
		if err := f.download(ctx, url, part, rf.Size); err != nil {
			lastErr = fmt.Errorf("%s: %w", url, err)
			if ctx.Err() != nil {
				return lastErr
			}
			continue
		}
		if err := checkSums(part, rf); err != nil {
			os.Remove(part)
			lastErr = fmt.Errorf("%s: %w", url, err)
			continue
		}
		if err := syncFile(part); err != nil {
			return err
		}
		if err := os.Rename(part, dest); err != nil {
			return err
		}
		syncDir(folder)
		if rf.MD5 == "" && rf.SHA256 == "" {
			sum, _ := fileSum(dest, sha256.New())
			f.logf("%s: downloaded from %s, UNVERIFIED (no published sum), sha256 %s", dest, url, sum)
		} else {
			f.logf("%s: downloaded from %s, verified", dest, url)
		}
		return nil
	}
	return lastErr
}

// errStalled is the cause a stalled download is cancelled with.
var errStalled = errors.New("stalled")

// download fetches url into part, appending to what part already holds.
// size is the whole file's known length (0: unknown, MaxDownloadBytes
// bounds it): a body that would make part longer is refused and part
// removed, since it cannot be a prefix of the right file.
func (f *Fetcher) download(ctx context.Context, url, part string, size int64) error {
	client := f.Client
	if client == nil {
		client = defaultClient
	}
	stall := f.StallTimeout
	if stall <= 0 {
		stall = DefaultStallTimeout
	}
	limit := size
	if limit <= 0 {
		limit = MaxDownloadBytes
	}
	var have int64
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
		if have > limit {
			// Longer than the file can be: garbage from an earlier server.
			os.Remove(part)
			have = 0
		}
	}
	// The request's context is cancelled when no byte has arrived for
	// stall; every read that brings data pushes the deadline back.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer timer.Stop()
	stalled := func(err error) error {
		if errors.Is(context.Cause(ctx), errStalled) {
			return fmt.Errorf("no data for %v, download abandoned: %w", stall, err)
		}
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := client.Do(req)
	if err != nil {
		return stalled(err)
	}
	defer resp.Body.Close()
	timer.Reset(stall)
	flags := os.O_CREATE | os.O_WRONLY
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		var start int64 = -1
		fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-", &start)
		if start != have {
			return fmt.Errorf("server resumed at byte %d, have %d", start, have)
		}
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		// The .part is already complete (or longer than the file): let the
		// checksum decide.
		return nil
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC
		have = 0
	default:
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	room := limit - have
	what := fmt.Sprintf("the file's known size of %d bytes", limit)
	if size <= 0 {
		what = fmt.Sprintf("the %d-byte limit for a file of unknown size (MaxDownloadBytes)", limit)
	}
	if resp.ContentLength > room {
		return fmt.Errorf("server announces %d bytes after byte %d, more than %s", resp.ContentLength, have, what)
	}
	out, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return err
	}
	body := &progressReader{r: io.LimitReader(resp.Body, room+1), onData: func() { timer.Reset(stall) }}
	n, err := io.Copy(out, body)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if n > room {
		os.Remove(part)
		return fmt.Errorf("body runs past %s; download refused and %s removed", what, part)
	}
	if err != nil {
		return fmt.Errorf("transfer interrupted after %d bytes (kept in %s to resume): %w", n, part, stalled(err))
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("transfer interrupted after %d of %d bytes (kept in %s to resume)", n, resp.ContentLength, part)
	}
	return nil
}

// progressReader calls onData after every read that returns bytes.
type progressReader struct {
	r      io.Reader
	onData func()
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.onData()
	}
	return n, err
}

// checkSums verifies p against rf's known size and sums.
func checkSums(p string, rf RemoteFile) error {
	if rf.Size > 0 {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.Size() != rf.Size {
			return &ChecksumError{File: p, Algo: "size", Want: strconv.FormatInt(rf.Size, 10), Got: strconv.FormatInt(st.Size(), 10)}
		}
	}
	for _, c := range []struct {
		algo, want string
		h          func() hash.Hash
	}{{"md5", rf.MD5, md5.New}, {"sha256", rf.SHA256, sha256.New}} {
		if c.want == "" {
			continue
		}
		got, err := fileSum(p, c.h())
		if err != nil {
			return err
		}
		if !strings.EqualFold(got, c.want) {
			return &ChecksumError{File: p, Algo: c.algo, Want: c.want, Got: got}
		}
	}
	return nil
}

func fileSum(p string, h hash.Hash) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func syncFile(p string) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a rename durable; failure is harmless (some systems cannot
// sync directories).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// errNotFound tells a named dataset's opener that none of its candidate
// locations exists.
var errNotFound = errors.New("not found")
