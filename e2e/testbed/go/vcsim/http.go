package main

// HTTP side of the harness: the /lifeboat-harness/ endpoints and the hook
// that follows whole-disk uploads through the datastore interface.

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
)

const harnessPrefix = "/lifeboat-harness/"

// httpHandler puts the harness in front of the simulator's handler.
func (h *harness) httpHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, harnessPrefix):
			h.serveHarness(w, r)
		case strings.HasPrefix(r.URL.Path, "/folder/") && !h.sessionActive(r):
			// As a real vCenter: datastore transfers need the cookie of a live session.
			http.Error(w, "no valid vmware_soap_session cookie", http.StatusUnauthorized)
		case strings.HasPrefix(r.URL.Path, "/folder/") && (r.Method == http.MethodPut || r.Method == http.MethodPost):
			h.serveUpload(w, r)
		case strings.HasPrefix(r.URL.Path, nfcPrefix) && (r.Method == http.MethodPut || r.Method == http.MethodPost):
			// Like ESXi's, the lease's URLs need no session: the lease id is the ticket.
			h.serveLeaseUpload(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// serveUpload stores a file uploaded through the datastore interface
// (PUT /folder/<path>?dsName=..., or POST, which refuses to replace a file),
// as the simulator's own handler does, with two differences: runs of zeros
// become holes, so restoring a 10 GiB disk holding 256 MiB of data costs
// 256 MiB of the test bed's disk rather than 10 GiB, and a failed write is
// an HTTP 500 rather than a silently truncated file. What a reader gets back
// is byte for byte the same.
func (h *harness) serveUpload(w http.ResponseWriter, r *http.Request) {
	rel, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/folder/"))
	if err != nil || strings.Contains(rel, "..") {
		http.Error(w, "bad datastore path", http.StatusBadRequest)
		return
	}
	dir, err := h.uploadDatastoreDir(r.URL.Query().Get("dcPath"), r.URL.Query().Get("dsName"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if r.Method == http.MethodPost {
		if _, err := os.Stat(p); err == nil {
			w.WriteHeader(http.StatusConflict)
			return
		}
	}
	if err := writeSparse(p, r.Body, r.ContentLength); err != nil {
		log.Printf("upload of %s failed: %v", p, err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h.afterUpload(p)
	w.WriteHeader(http.StatusOK)
}

// uploadDatastoreDir finds the directory of the datastore a /folder request
// names, as the simulator's handler does: dcPath picks the datacenter (the
// only one when empty), dsName its datastore (the only one when empty).
func (h *harness) uploadDatastoreDir(dcPath, dsName string) (string, error) {
	var dcs []*simulator.Datacenter
	for _, e := range h.model.Map().All("Datacenter") {
		if dc, ok := e.(*simulator.Datacenter); ok && (dcPath == "" || dc.Name == path.Base(dcPath)) {
			dcs = append(dcs, dc)
		}
	}
	if len(dcs) != 1 {
		return "", fmt.Errorf("dcPath %q matches %d datacenters, not one", dcPath, len(dcs))
	}
	var dirs []string
	for _, ref := range dcs[0].Datastore {
		if ds, ok := h.model.Map().Get(ref).(*simulator.Datastore); ok && (dsName == "" || ds.Name == dsName) {
			dirs = append(dirs, ds.Summary.Url)
		}
	}
	if len(dirs) != 1 {
		return "", fmt.Errorf("dsName %q matches %d datastores of datacenter %s, not one", dsName, len(dirs), dcs[0].Name)
	}
	return dirs[0], nil
}

// sparseChunk is the granularity at which zeros are left as holes.
const sparseChunk = 64 << 10

// writeSparse replaces the file at p with the content of body, leaving every
// all-zero sparseChunk unwritten (a hole reads as zeros). A body that ends
// before its declared length (-1: unknown), or is cut off, is an error.
func writeSparse(p string, body io.Reader, length int64) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	zeros := make([]byte, sparseChunk)
	buf := make([]byte, 1<<20)
	var size int64
	for {
		n, rerr := fill(body, buf)
		for o := 0; o < n; o += sparseChunk {
			chunk := buf[o:min(o+sparseChunk, n)]
			if !bytes.Equal(chunk, zeros[:len(chunk)]) {
				if _, err := f.WriteAt(chunk, size+int64(o)); err != nil {
					f.Close()
					return err
				}
			}
		}
		size += int64(n)
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			f.Close()
			return rerr
		}
	}
	if length >= 0 && size != length {
		f.Close()
		return fmt.Errorf("the body ended after %d of its %d bytes", size, length)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// fill reads into buf until it is full or the body ends. Unlike io.ReadFull
// it keeps a body that was cut off (io.ErrUnexpectedEOF from the HTTP server)
// apart from one that ended (io.EOF).
func fill(body io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := body.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// sessionActive reports whether the request carries the cookie of a live
// session. The simulator's own /folder handler accepts anyone; vCenter does
// not. The simulator keeps its sessions private, but hands out a per-session
// view of its SessionManager with SessionList filled in, which this reads.
func (h *harness) sessionActive(r *http.Request) bool {
	cookie, err := r.Cookie(soap.SessionCookieName)
	if err != nil || cookie.Value == "" {
		return false
	}
	view := &simulator.Session{Registry: simulator.NewRegistry(), Map: h.model.Map()}
	m, ok := view.Get(h.model.Map().SessionManager().Reference()).(*simulator.SessionManager)
	if !ok {
		return false
	}
	for _, s := range m.SessionList {
		if s.Key == cookie.Value {
			return true
		}
	}
	return false
}

func (h *harness) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	u := subtle.ConstantTimeCompare([]byte(user), []byte(h.username))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(h.password))
	return u&p == 1
}

type diskJSON struct {
	Key      int32  `json:"key"`
	FileName string `json:"fileName"`
	FlatPath string `json:"flatPath"`
	Capacity int64  `json:"capacityBytes"`
	ChangeID string `json:"changeId,omitempty"`
}

// serveHarness serves:
//
//	GET  /lifeboat-harness/disks?vm=<moref or name>
//	     the VM's disks as JSON: key, fileName, flatPath, capacityBytes, changeId
//	PUT  /lifeboat-harness/disk?vm=<moref or name>&deviceKey=<key>&offset=<bytes>
//	     writes the request body (Content-Length required) into the live disk at
//	     offset, as a guest write: the blocks count as changed for CBT.
//
// Both need HTTP Basic authentication with the simulator's user and password.
func (h *harness) serveHarness(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="vcsim harness"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	vm := h.findVM(q.Get("vm"))
	if vm == nil {
		http.Error(w, "no such VM: "+q.Get("vm"), http.StatusNotFound)
		return
	}
	switch strings.TrimPrefix(r.URL.Path, harnessPrefix) {
	case "disks":
		if r.Method != http.MethodGet {
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		disks, err := h.vmDisks(vm)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out := []diskJSON{}
		for _, d := range disks {
			j := diskJSON{Key: d.key, FileName: d.fileName, FlatPath: d.flatPath, Capacity: d.capacity}
			if d.backing != nil {
				j.ChangeID = d.backing.ChangeId
			}
			out = append(out, j)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	case "disk":
		if r.Method != http.MethodPut && r.Method != http.MethodPost {
			http.Error(w, "use PUT", http.StatusMethodNotAllowed)
			return
		}
		if r.ContentLength < 0 {
			http.Error(w, "Content-Length is required", http.StatusLengthRequired)
			return
		}
		key, err1 := strconv.ParseInt(q.Get("deviceKey"), 10, 32)
		offset, err2 := strconv.ParseInt(q.Get("offset"), 10, 64)
		if q.Get("deviceKey") == "" {
			key, err1 = 0, nil
		}
		if err1 != nil || err2 != nil {
			http.Error(w, "deviceKey and offset must be integers", http.StatusBadRequest)
			return
		}
		if err := h.writeLive(vm, int32(key), offset, r.ContentLength, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}
