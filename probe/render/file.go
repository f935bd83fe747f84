package render

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNotRegular is the cause of Writable's error for a path that exists
// and is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// Writable reports whether WriteFile may replace path: its directory
// exists, and path is absent or a regular file (a symbolic link to one
// included). A device node, a directory, a pipe or a socket is refused
// with an error wrapping ErrNotRegular, because the rename would put a
// regular file in its place (as root, --prom-file /dev/stdout would
// replace the system's node).
func Writable(path string) error {
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("directory %s does not exist", dir)
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !st.Mode().IsRegular():
		return fmt.Errorf("exists and is %s, %w: want a new or a regular file, which is replaced by a rename", kind(st.Mode()), ErrNotRegular)
	}
	return nil
}

// kind names the type of a file that is not regular.
func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}

// WriteFile writes data to path through a temporary file in the
// same directory and a rename, so that a reader such as node_exporter's
// textfile collector never sees half a file, and a failure leaves
// nothing behind. A path that exists and is not a regular file is
// refused (Writable).
func WriteFile(path string, data []byte) error {
	if err := Writable(path); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
