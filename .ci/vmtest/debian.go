package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// debianCodenames are the suite names that identify an apt source as a
// Debian archive (not Ubuntu's, not a third party's).
var debianCodenames = map[string]bool{
	"buster": true, "bullseye": true, "bookworm": true, "trixie": true,
	"forky": true, "duke": true, "sid": true, "unstable": true,
	"testing": true, "stable": true, "oldstable": true,
}

// debianMirror returns the Debian archive URI: $DEBIAN_MIRROR, else the
// first "deb" source of the host's apt configuration whose suite is a Debian
// release (not -security): /etc/apt/sources.list and sources.list.d/*.list
// (one-line format), sources.list.d/*.sources (deb822).
func debianMirror() (string, error) {
	if m := os.Getenv("DEBIAN_MIRROR"); m != "" {
		return strings.TrimRight(m, "/"), nil
	}
	files := []string{"/etc/apt/sources.list"}
	for _, pat := range []string{"/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var uri string
		if strings.HasSuffix(f, ".sources") {
			uri = mirrorDeb822(string(b))
		} else {
			uri = mirrorOneLine(string(b))
		}
		if uri != "" {
			return strings.TrimRight(uri, "/"), nil
		}
	}
	return "", errors.New("no Debian archive in the apt configuration (/etc/apt/sources.list, /etc/apt/sources.list.d/): set DEBIAN_MIRROR to the URL of a Debian mirror (the directory holding dists/ and pool/)")
}

func isDebianSuite(s string) bool {
	if strings.HasSuffix(s, "-security") {
		return false
	}
	base, _, _ := strings.Cut(s, "-")
	return debianCodenames[base]
}

func usableURI(u string) bool {
	return (strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) && !strings.Contains(u, "security")
}

func mirrorOneLine(text string) string {
	for _, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") { // [ options ]
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) == 0 {
				continue
			}
			f = f[1:]
		}
		if len(f) >= 2 && usableURI(f[0]) && isDebianSuite(f[1]) {
			return f[0]
		}
	}
	return ""
}

func mirrorDeb822(text string) string {
	for _, stanza := range strings.Split(strings.ReplaceAll(text, "\r", ""), "\n\n") {
		fields := map[string]string{}
		var last string
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
				continue
			}
			if (line[0] == ' ' || line[0] == '\t') && last != "" {
				fields[last] += " " + strings.TrimSpace(line)
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
		if strings.EqualFold(fields["enabled"], "no") || !strings.Contains(" "+fields["types"]+" ", " deb ") {
			continue
		}
		debian := false
		for _, s := range strings.Fields(fields["suites"]) {
			debian = debian || isDebianSuite(s)
		}
		if !debian {
			continue
		}
		for _, u := range strings.Fields(fields["uris"]) {
			if usableURI(u) {
				return u
			}
		}
	}
	return ""
}

// httpClient: every download has a connect and a response-header limit, and
// stallReader ends one that stops moving: an unreachable mirror is an
// error within a minute or two, never a hang.
var httpClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	},
}

const (
	stallLimit    = 60 * time.Second // no byte for this long: give up
	downloadLimit = 20 * time.Minute // one file, however slow
)

// download fetches url into the file dst (through dst.part, renamed when
// complete) and returns its SHA-256.
func download(url, dst string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), downloadLimit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return "", err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("download %s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".part*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	timer := time.AfterFunc(stallLimit, cancel)
	defer timer.Stop()
	buf := make([]byte, 256<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			timer.Reset(stallLimit)
			h.Write(buf[:n])
			if _, err := tmp.Write(buf[:n]); err != nil {
				tmp.Close()
				return "", err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			tmp.Close()
			if ctx.Err() != nil {
				rerr = fmt.Errorf("no data for %v or longer than %v in all (%w)", stallLimit, downloadLimit, rerr)
			}
			return "", fmt.Errorf("download %s: %w", url, rerr)
		}
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

const debianKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// releaseHashes downloads dists/SUITE/InRelease, checks its signature with
// gpgv against Debian's archive keyring, and returns the SHA-256 of every
// index file it lists. Without gpgv or the keyring (not a Debian host) it
// warns and reads the file unverified.
func releaseHashes(mirror, cache, suite string) (map[string]string, error) {
	dst := filepath.Join(cache, "dists", suite, "InRelease")
	if _, err := download(mirror+"/dists/"+suite+"/InRelease", dst); err != nil {
		return nil, err
	}
	text, err := os.ReadFile(dst)
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("gpgv"); err == nil && fileExists(debianKeyring) {
		var out, errb bytes.Buffer
		cmd := exec.Command("gpgv", "--keyring", debianKeyring, "--output", "-", dst)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%s/dists/%s/InRelease: bad signature (gpgv --keyring %s): %v\n%s", mirror, suite, debianKeyring, err, errb.String())
		}
		text = out.Bytes()
	} else {
		warnf("gpgv or %s missing: dists/%s/InRelease is used without checking its signature", debianKeyring, suite)
	}
	sums := map[string]string{}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, " ") {
			in = line == "SHA256:"
			continue
		}
		if f := strings.Fields(line); in && len(f) == 3 {
			sums[f[2]] = f[0]
		}
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("%s/dists/%s/InRelease lists no SHA256 sums", mirror, suite)
	}
	return sums, nil
}

// A debPackage is the part of a Packages stanza the runner needs.
type debPackage struct {
	Name, Version, Filename, SHA256, Depends string
}

// readPackages downloads and checks main/binary-ARCH/Packages.xz (or .gz
// when xz is missing) and returns its stanzas by package name.
func readPackages(mirror, cache, suite, debarch string, sums map[string]string) (map[string]debPackage, error) {
	rel := "main/binary-" + debarch + "/Packages.xz"
	unpack := []string{"xz", "-dc"}
	if _, err := exec.LookPath("xz"); err != nil {
		rel = strings.TrimSuffix(rel, ".xz") + ".gz"
		unpack = []string{"gzip", "-dc"}
	}
	want, ok := sums[rel]
	if !ok {
		return nil, fmt.Errorf("dists/%s/InRelease does not list %s", suite, rel)
	}
	dst := filepath.Join(cache, "dists", suite, filepath.FromSlash(rel))
	if got, err := fileSHA256(dst); err != nil || got != want {
		got, err := download(mirror+"/dists/"+suite+"/"+rel, dst)
		if err != nil {
			return nil, err
		}
		if got != want {
			return nil, fmt.Errorf("%s/dists/%s/%s: SHA-256 %s, InRelease says %s", mirror, suite, rel, got, want)
		}
	}
	cmd := exec.Command(unpack[0], append(unpack[1:], dst)...)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", strings.Join(unpack, " "), dst, err)
	}
	pkgs := map[string]debPackage{}
	for _, stanza := range strings.Split(string(out), "\n\n") {
		var p debPackage
		for _, line := range strings.Split(stanza, "\n") {
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				continue
			}
			switch k {
			case "Package":
				p.Name = v
			case "Version":
				p.Version = v
			case "Filename":
				p.Filename = v
			case "SHA256":
				p.SHA256 = v
			case "Depends":
				p.Depends = v
			}
		}
		if p.Name != "" {
			pkgs[p.Name] = p
		}
	}
	return pkgs, nil
}

// debianKernel returns the path of the kernel of row k in the cache,
// downloading it when it is not there yet or the cached choice is older
// than refreshAfter. The versioned image package is the metapackage's
// first dependency; its kernel is boot/vmlinuz-* (boot/vmlinux-* on
// ppc64el and riscv64). Only the kernel is kept: the .deb is deleted once
// it is extracted. It returns the image package's name and version too.
func debianKernel(cacheRoot string, k kernelRow, refresh bool) (kernel, pkgver string, err error) {
	suite, debarch, meta, _ := k.Debian()
	cache := filepath.Join(cacheRoot, "debian")
	dir := filepath.Join(cache, suite+"-"+debarch)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", "", err
	}
	defer unlock()
	// META.chosen: "KERNELFILE PACKAGE VERSION", what was chosen last time.
	chosen := filepath.Join(dir, meta+".chosen")
	var cached, cachedPkg string
	if b, err := os.ReadFile(chosen); err == nil {
		if f := strings.Fields(string(b)); len(f) == 3 && fileExists(filepath.Join(dir, f[0])) {
			cached, cachedPkg = filepath.Join(dir, f[0]), f[1]+" "+f[2]
		}
	}
	if cached != "" && !refresh {
		if st, err := os.Stat(chosen); err == nil && time.Since(st.ModTime()) < refreshAfter {
			return cached, cachedPkg, nil
		}
	}
	kernel, pkgver, err = debianFetch(cache, dir, suite, debarch, meta)
	if err != nil {
		if cached != "" {
			warnf("%s: %v; using the cached %s", k.Name, err, filepath.Base(cached))
			return cached, cachedPkg, nil
		}
		return "", "", fmt.Errorf("no kernel from the Debian archive: %w", err)
	}
	if err := os.WriteFile(chosen, []byte(filepath.Base(kernel)+" "+pkgver+"\n"), 0o644); err != nil {
		return "", "", err
	}
	if cached != "" && cached != kernel {
		os.Remove(cached)
	}
	return kernel, pkgver, nil
}

// refreshAfter: how long a cached kernel choice stands before the archive
// is asked again whether the metapackage points to a newer image.
const refreshAfter = 7 * 24 * time.Hour

func debianFetch(cache, dir, suite, debarch, meta string) (kernel, pkgver string, err error) {
	mirror, err := debianMirror()
	if err != nil {
		return "", "", err
	}
	sums, err := releaseHashes(mirror, cache, suite)
	if err != nil {
		return "", "", err
	}
	pkgs, err := readPackages(mirror, cache, suite, debarch, sums)
	if err != nil {
		return "", "", err
	}
	m, ok := pkgs[meta]
	if !ok {
		return "", "", fmt.Errorf("%s/dists/%s main/binary-%s has no package %s", mirror, suite, debarch, meta)
	}
	first, _, _ := strings.Cut(m.Depends, ",")
	first, _, _ = strings.Cut(strings.TrimSpace(first), " ")
	img, ok := pkgs[first]
	if !ok || img.Filename == "" {
		return "", "", fmt.Errorf("%s %s: first dependency %q is not in the index", meta, m.Version, first)
	}
	pkgver = img.Name + " " + img.Version
	// A kernel already extracted from this very package is reused.
	if b, err := os.ReadFile(filepath.Join(dir, meta+".chosen")); err == nil {
		if f := strings.Fields(string(b)); len(f) == 3 && f[1]+" "+f[2] == pkgver && fileExists(filepath.Join(dir, f[0])) {
			return filepath.Join(dir, f[0]), pkgver, nil
		}
	}
	deb := filepath.Join(dir, path.Base(img.Filename))
	infof("downloading %s/%s", mirror, img.Filename)
	start := time.Now()
	got, err := download(mirror+"/"+img.Filename, deb)
	if err != nil {
		return "", "", err
	}
	defer os.Remove(deb)
	if got != img.SHA256 {
		return "", "", fmt.Errorf("%s: SHA-256 %s, the index says %s", img.Filename, got, img.SHA256)
	}
	st, _ := os.Stat(deb)
	infof("downloaded %s (%.1f MB) in %.1fs", path.Base(img.Filename), float64(st.Size())/1e6, time.Since(start).Seconds())
	kernel, err = extractKernel(deb, dir)
	return kernel, pkgver, err
}

// extractKernel copies boot/vmlinuz-* or boot/vmlinux-* out of a kernel
// image .deb (dpkg-deb --fsys-tarfile) into dir.
func extractKernel(deb, dir string) (string, error) {
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("dpkg-deb (Debian/Ubuntu package dpkg): %w", err)
	}
	defer cmd.Wait()
	defer io.Copy(io.Discard, out)
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("dpkg-deb --fsys-tarfile %s: %v %s", deb, err, errb.String())
		}
		name := strings.TrimPrefix(h.Name, "./")
		base := path.Base(name)
		if path.Dir(name) != "boot" || h.Typeflag != tar.TypeReg ||
			!(strings.HasPrefix(base, "vmlinuz-") || strings.HasPrefix(base, "vmlinux-")) {
			continue
		}
		dst := filepath.Join(dir, base)
		tmp := dst + ".part"
		f, err := os.Create(tmp)
		if err != nil {
			return "", err
		}
		if _, err := io.Copy(f, tr); err != nil {
			f.Close()
			os.Remove(tmp)
			return "", err
		}
		if err := f.Close(); err != nil {
			return "", err
		}
		return dst, os.Rename(tmp, dst)
	}
	return "", fmt.Errorf("%s holds no boot/vmlinuz-* or boot/vmlinux-*", filepath.Base(deb))
}

func fileExists(name string) bool {
	st, err := os.Stat(name)
	return err == nil && st.Mode().IsRegular()
}
