package certificate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Folder is a Store in a local (or mounted) folder: each name a file,
// written to a temporary file and renamed, so that a reader never sees part
// of one. URIs are file:// URLs. Another store (an object store) needs
// only Put and Get.
type Folder struct {
	Dir string
}

// NewFolder returns a Folder, creating dir if needed.
func NewFolder(dir string) (*Folder, error) {
	if dir == "" {
		return nil, errors.New("certificate: no folder")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return &Folder{Dir: abs}, nil
}

func (f *Folder) path(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("certificate: %q is not a file name", name)
	}
	return filepath.Join(f.Dir, name), nil
}

// Put implements Store.
func (f *Folder) Put(ctx context.Context, name string, data []byte) (string, error) {
	p, err := f.path(name)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(f.Dir, "."+name+".*")
	if err != nil {
		return "", err
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), p)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return "", werr
	}
	return (&url.URL{Scheme: "file", Path: p}).String(), nil
}

// Get implements Store.
func (f *Folder) Get(ctx context.Context, name string) ([]byte, error) {
	p, err := f.path(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return b, err
}
