package main

// HTTP side of the harness: the /lifeboat-harness/ endpoints and the hook
// that follows whole-disk uploads through the datastore interface.

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const harnessPrefix = "/lifeboat-harness/"

// httpHandler puts the harness in front of the simulator's handler.
func (h *harness) httpHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, harnessPrefix):
			h.serveHarness(w, r)
		case strings.HasPrefix(r.URL.Path, "/folder/") && (r.Method == http.MethodPut || r.Method == http.MethodPost):
			next.ServeHTTP(w, r)
			if rel, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/folder/")); err == nil && !strings.Contains(rel, "..") {
				h.afterUpload(r.URL.Query().Get("dsName"), rel)
			}
		default:
			next.ServeHTTP(w, r)
		}
	})
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
