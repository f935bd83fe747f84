package job

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/smtpprobe/smtpprobe/probe/render"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// FileLimit bounds a file smtpprobe reads, in bytes and in items, so
// that a mistake (/dev/zero, a log named by accident, a hostile file)
// is refused with one line instead of filling memory. The bytes are read
// no further than the limit; the items are counted before the file is
// parsed, because a parser spends far more on an item than the bytes
// that spell it (yaml.v3: about 600 bytes for "a," in a flow list; a
// result of a report: about 1.6 KiB for "{},").
type FileLimit struct {
	What  string           // "configuration", "baseline"
	Bytes int64            // at most this many bytes
	Items int              // at most this many items, as Count counts them
	Count func([]byte) int // the items of a file; nil counts none
}

// The limits of each kind of file. A configuration of 1,000 targets is
// about 50 KiB and 2,000 items; a baseline of a 1,000-MX domain about
// 1 MiB and 20,000 objects. Within them, reading and parsing a file
// costs at most about 100 MB.
var (
	ConfigLimit   = FileLimit{What: "configuration", Bytes: 1 << 20, Items: 50_000, Count: yamlItems}
	BaselineLimit = FileLimit{What: "baseline", Bytes: 8 << 20, Items: 40_000, Count: jsonItems}
)

// yamlItems counts what can open a YAML node: lines and the separators
// and brackets of flow collections.
func yamlItems(b []byte) int {
	n := 0
	for _, c := range b {
		switch c {
		case '\n', ',', '[', '{':
			n++
		}
	}
	return n
}

// jsonItems counts the objects and arrays of a JSON document (brackets
// inside strings too: an overcount, never an undercount).
func jsonItems(b []byte) int { return bytes.Count(b, []byte("{")) + bytes.Count(b, []byte("[")) }

// ErrTooLarge is the cause of a *FileSizeError.
var ErrTooLarge = errors.New("file too large")

// FileSizeError is a file beyond its FileLimit.
type FileSizeError struct {
	Path  string
	Limit FileLimit
	Items bool // the items, not the bytes, are past the limit
}

func (e *FileSizeError) Error() string {
	if e.Items {
		return fmt.Sprintf("%s has more than %d items (lines, entries, brackets), the limit for a %s file", e.Path, e.Limit.Items, e.Limit.What)
	}
	return fmt.Sprintf("%s is larger than %s, the limit for a %s file", e.Path, units.Bytes(e.Limit.Bytes), e.Limit.What)
}

func (e *FileSizeError) Unwrap() error { return ErrTooLarge }

// ReadFile reads path as os.ReadFile does, within lim: a larger file (or
// a device without end, such as /dev/zero) is a *FileSizeError after
// reading at most lim.Bytes+1 bytes.
func ReadFile(path string, lim FileLimit) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > lim.Bytes {
		return nil, &FileSizeError{Path: path, Limit: lim}
	}
	b, err := io.ReadAll(io.LimitReader(f, lim.Bytes+1))
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(b)) > lim.Bytes {
		return nil, &FileSizeError{Path: path, Limit: lim}
	}
	if lim.Count != nil && lim.Count(b) > lim.Items {
		return nil, &FileSizeError{Path: path, Limit: lim, Items: true}
	}
	return b, nil
}

// CheckWritable checks a file that smtpprobe replaces through a
// temporary file and a rename (--prom-file, --save-baseline): its
// directory must exist, and the path must be absent or a regular file,
// never a device node, a directory or a pipe that the rename would
// replace (render.Writable). Its error is a *FieldError for field.
func CheckWritable(field, path string) error {
	if path == "" {
		return nil
	}
	if err := render.Writable(path); err != nil {
		return &FieldError{Field: field, Value: path, Reason: err.Error()}
	}
	return nil
}
