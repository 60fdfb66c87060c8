package main

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// cpioWriter writes a "newc" cpio archive, the format of a Linux initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst): every
// entry is a 110-byte ASCII header, the NUL-terminated name and the data,
// each padded to 4 bytes; a "TRAILER!!!" entry ends it.
type cpioWriter struct {
	w   *bufio.Writer
	ino int
	off int64
	err error
}

func newCpio(w io.Writer) *cpioWriter { return &cpioWriter{w: bufio.NewWriter(w), ino: 1} }

const (
	cpioDir  = 0o040000
	cpioFile = 0o100000
	cpioChr  = 0o020000
)

func (c *cpioWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.off += int64(n)
	c.err = err
}

func (c *cpioWriter) pad() {
	if r := c.off % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

// entry writes one header and name; the caller writes size bytes of data.
func (c *cpioWriter) entry(name string, mode uint32, size int64, rmajor, rminor int) {
	c.ino++
	nlink := 1
	if mode&0o170000 == cpioDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, rmajor, rminor, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write(append([]byte(name), 0))
	c.pad()
}

func (c *cpioWriter) Dir(name string) { c.entry(name, cpioDir|0o755, 0, 0, 0) }

func (c *cpioWriter) CharDev(name string, perm uint32, major, minor int) {
	c.entry(name, cpioChr|perm, 0, major, minor)
}

func (c *cpioWriter) Bytes(name string, perm uint32, data []byte) {
	c.entry(name, cpioFile|perm, int64(len(data)), 0, 0)
	c.write(data)
	c.pad()
}

// File copies a host file into the archive.
func (c *cpioWriter) File(name string, perm uint32, src string) {
	if c.err != nil {
		return
	}
	f, err := os.Open(src)
	if err != nil {
		c.err = err
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		c.err = err
		return
	}
	c.entry(name, cpioFile|perm, st.Size(), 0, 0)
	if c.err != nil {
		return
	}
	n, err := io.Copy(c.w, f)
	c.off += n
	if err == nil && n != st.Size() {
		err = fmt.Errorf("%s changed size while being archived", src)
	}
	c.err = err
	c.pad()
}

// Tree copies the directory src to dst (its entries, recursively), leaving
// out .git and anything that is not a directory or a regular file.
func (c *cpioWriter) Tree(dst, src string) {
	if c.err != nil {
		return
	}
	c.err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := path.Join(dst, filepath.ToSlash(rel))
		switch {
		case d.IsDir() && d.Name() == ".git" && p != src:
			return filepath.SkipDir
		case d.IsDir():
			if rel != "." {
				c.Dir(name)
			}
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			c.File(name, uint32(info.Mode().Perm()), p)
		}
		return c.err
	})
}

func (c *cpioWriter) Close() error {
	c.entry("TRAILER!!!", 0, 0, 0, 0)
	if c.err != nil {
		return c.err
	}
	return c.w.Flush()
}
