package main

// Import leases (ResourcePool.ImportVApp -> HttpNfcLease) with disk content,
// as ESXi serves them. The simulator creates the VM and a lease whose device
// URLs (/nfc/<lease>/<disk file>) accept any upload and only hash it. The
// harness makes an upload to a disk's device URL land as that disk's content:
// it decodes the stream-optimized VMDK into the disk's -flat.vmdk file. It
// also gives the imported VM's disks their sized data files once the lease is
// ready (as after CreateVM_Task), checks HttpNfcLeaseComplete's state, and
// on HttpNfcLeaseAbort destroys the VM the import created, as vSphere does.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

const nfcPrefix = "/nfc/"

// importLease is the harness's record of one lease from ImportVApp, from the
// call until HttpNfcLeaseComplete or HttpNfcLeaseAbort.
type importLease struct {
	lease *simulator.HttpNfcLease

	prepare  sync.Once
	prepared error

	mu        sync.Mutex
	uploading map[string]bool // device URL names with an upload in flight
}

// leaseState reads the lease's state and entity under the simulator's lock.
func (h *harness) leaseState(il *importLease) (types.HttpNfcLeaseState, types.ManagedObjectReference) {
	var state types.HttpNfcLeaseState
	var entity types.ManagedObjectReference
	h.model.Map().WithLock(&simulator.Context{}, il.lease, func() {
		state = il.lease.State
		if il.lease.Info != nil {
			entity = il.lease.Info.Entity
		}
	})
	return state, entity
}

// trackLease records a new import lease and, once it is ready, gives the
// VM's disks their data files.
func (h *harness) trackLease(lease *simulator.HttpNfcLease) {
	il := &importLease{lease: lease, uploading: map[string]bool{}}
	h.mu.Lock()
	h.leases[lease.Self.Value] = il
	h.mu.Unlock()
	go func() {
		for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			state, _ := h.leaseState(il)
			if state == types.HttpNfcLeaseStateReady {
				if err := h.prepareImport(il); err != nil {
					log.Printf("import lease %s: %v", lease.Self.Value, err)
				}
				return
			}
			if state != types.HttpNfcLeaseStateInitializing {
				return
			}
		}
	}()
}

// prepareImport sizes the data files of the imported VM's disks, once; every
// caller waits for the one preparation and gets its result.
func (h *harness) prepareImport(il *importLease) error {
	il.prepare.Do(func() {
		_, entity := h.leaseState(il)
		vm, ok := h.model.Map().Get(entity).(*simulator.VirtualMachine)
		if !ok {
			il.prepared = fmt.Errorf("the imported VM %s is gone", entity.Value)
			return
		}
		ctx := &simulator.Context{Context: context.Background(), Map: h.model.Map()}
		h.model.Map().WithLock(ctx, vm, func() {
			changed, err := h.prepareVM(vm)
			if err != nil {
				il.prepared = fmt.Errorf("could not give the disks of %s their data files: %w", vm.Name, err)
				return
			}
			if changed {
				publishDevices(ctx, vm)
			}
		})
	})
	return il.prepared
}

// takeLease forgets a lease (completed or aborted) and returns its record.
func (h *harness) takeLease(id string) *importLease {
	h.mu.Lock()
	defer h.mu.Unlock()
	il := h.leases[id]
	delete(h.leases, id)
	return il
}

// discardImport destroys the VM an aborted import created, as vSphere does
// when an import lease ends in error. The caller holds the lease's lock (a
// SOAP call on it), so a lease still initializing is waited for elsewhere.
func (h *harness) discardImport(ctx *simulator.Context, il *importLease) {
	destroy := func(ctx *simulator.Context, entity types.ManagedObjectReference) {
		vm, ok := ctx.Map.Get(entity).(*simulator.VirtualMachine)
		if !ok {
			return
		}
		body := vm.DestroyTask(ctx, &types.Destroy_Task{This: vm.Self})
		ref, ok := taskOf(body)
		if !ok {
			log.Printf("aborted import: could not destroy %s: %v", vm.Name, body.Fault())
			return
		}
		if task, ok := ctx.Map.Get(ref).(*simulator.Task); ok {
			task.Wait()
			if task.Info.Error != nil {
				log.Printf("aborted import: could not destroy %s: %s", vm.Name, task.Info.Error.LocalizedMessage)
			}
		}
		h.collect(ctx)
	}
	state := il.lease.State // the caller holds the lease's lock
	if state == types.HttpNfcLeaseStateReady && il.lease.Info != nil {
		destroy(ctx, il.lease.Info.Entity)
		return
	}
	go func() {
		bg := &simulator.Context{Context: context.Background(), Map: h.model.Map()}
		for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			state, entity := h.leaseState(il)
			if state == types.HttpNfcLeaseStateReady {
				destroy(bg, entity)
				return
			}
			if state != types.HttpNfcLeaseStateInitializing {
				return
			}
		}
	}()
}

// harnessPool wraps a ResourcePool for ImportVApp.
type harnessPool struct {
	*simulator.ResourcePool
	h        *harness
	registry *simulator.Registry // the caller's own session registry, where the simulator keeps leases
}

// ImportVApp lets the simulator create the VM and the lease, then tracks the lease.
func (p *harnessPool) ImportVApp(ctx *simulator.Context, req *types.ImportVApp) soap.HasFault {
	ctx.Session.Registry = p.registry
	body := p.ResourcePool.ImportVApp(ctx, req)
	if b, ok := body.(*methods.ImportVAppBody); ok && b.Res != nil {
		if lease, ok := ctx.Session.Get(b.Res.Returnval).(*simulator.HttpNfcLease); ok {
			p.h.trackLease(lease)
		}
	}
	return body
}

// harnessLease wraps an HttpNfcLease of an import for Complete and Abort.
type harnessLease struct {
	*simulator.HttpNfcLease
	h        *harness
	registry *simulator.Registry
}

// HttpNfcLeaseComplete ends the import, keeping the VM. As on vSphere the
// lease must be ready (InvalidState otherwise).
func (l *harnessLease) HttpNfcLeaseComplete(ctx *simulator.Context, req *types.HttpNfcLeaseComplete) soap.HasFault {
	ctx.Session.Registry = l.registry
	if l.State != types.HttpNfcLeaseStateReady {
		msg := fmt.Sprintf("the lease is %s, not ready", l.State)
		return &methods.HttpNfcLeaseCompleteBody{Fault_: simulator.Fault(msg, methodFault(msg, &types.InvalidState{}))}
	}
	if il := l.h.takeLease(req.This.Value); il != nil {
		if err := l.h.prepareImport(il); err != nil {
			return &methods.HttpNfcLeaseCompleteBody{Fault_: simulator.Fault(err.Error(), methodFault(err.Error(), &types.FileFault{}))}
		}
	}
	return l.HttpNfcLease.HttpNfcLeaseComplete(ctx, req)
}

// HttpNfcLeaseAbort ends the import and removes the VM it created, as vSphere does.
func (l *harnessLease) HttpNfcLeaseAbort(ctx *simulator.Context, req *types.HttpNfcLeaseAbort) soap.HasFault {
	ctx.Session.Registry = l.registry
	il := l.h.takeLease(req.This.Value)
	body := l.HttpNfcLease.HttpNfcLeaseAbort(ctx, req)
	if il != nil {
		msg := "no fault given"
		if req.Fault != nil {
			msg = req.Fault.LocalizedMessage
		}
		log.Printf("import lease %s aborted by the client (%s); removing the VM it created", req.This.Value, msg)
		l.h.discardImport(ctx, il)
	}
	return body
}

// statusRecorder keeps the status the simulator's NFC handler answers.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header         { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusRecorder) WriteHeader(status int)      { s.status = status }

// bodyReader keeps the error (other than io.EOF) that reading a request body met.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.err = fmt.Errorf("the request body was cut off: %w", err)
	}
	return n, err
}

// serveLeaseUpload serves POST/PUT /nfc/<lease>/<name>: the stream-optimized
// VMDK of the disk whose device URL that is. The lease must be an import
// lease in the ready state and the name one of its device URLs. The stream
// replaces the disk's content (ESXi writes a new disk from it): every grain
// lands at its offset in the disk's data file, grains left out stay holes,
// and the written grains count as changed for CBT. The simulator's own
// handler still sees the bytes, so HttpNfcLeaseGetManifest reports their
// SHA-1 and size. Errors are HTTP 500 with the reason (404 for an unknown
// lease or device URL, as the simulator answers).
func (h *harness) serveLeaseUpload(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, nfcPrefix)
	slash := strings.LastIndex(rest, "/")
	if slash <= 0 {
		http.Error(w, "not a device URL: "+r.URL.Path, http.StatusNotFound)
		return
	}
	id, name := rest[:slash], rest[slash+1:]
	h.mu.Lock()
	il := h.leases[id]
	h.mu.Unlock()
	if il == nil {
		http.Error(w, fmt.Sprintf("no import lease %q (completed, aborted or never made)", id), http.StatusNotFound)
		return
	}
	state, entity := h.leaseState(il)
	if state != types.HttpNfcLeaseStateReady {
		http.Error(w, fmt.Sprintf("import lease %s is %s, not ready: wait for its state to be ready before uploading", id, state), http.StatusInternalServerError)
		return
	}
	if err := h.prepareImport(il); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	vm, ok := h.model.Map().Get(entity).(*simulator.VirtualMachine)
	if !ok {
		http.Error(w, fmt.Sprintf("the VM %s of import lease %s is gone", entity.Value, id), http.StatusInternalServerError)
		return
	}
	disk, err := h.leaseDisk(vm, il, name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}

	il.mu.Lock()
	busy := il.uploading[name]
	il.uploading[name] = true
	il.mu.Unlock()
	if busy {
		http.Error(w, fmt.Sprintf("another upload to %s is in progress", name), http.StatusInternalServerError)
		return
	}
	defer func() {
		il.mu.Lock()
		delete(il.uploading, name)
		il.mu.Unlock()
	}()

	stats, status, err := h.importDisk(r, vm, disk)
	if err != nil {
		log.Printf("import lease %s: upload to disk %d of %s failed: %v", id, disk.key, vm.Name, err)
		http.Error(w, fmt.Sprintf("disk %d of %s: %v", disk.key, vm.Name, err), http.StatusInternalServerError)
		return
	}
	if status != http.StatusOK {
		http.Error(w, fmt.Sprintf("the simulator's NFC handler answered %d", status), status)
		return
	}
	log.Printf("import lease %s: disk %d of %s received %d bytes, %d grains (%d bytes of data) of %d bytes of capacity",
		id, disk.key, vm.Name, stats.streamBytes, stats.grains, stats.grainBytes, disk.capacity)
	w.WriteHeader(http.StatusOK)
}

// leaseDisk finds the disk whose data a device URL name ("<vm>.vmdk",
// "<vm>_1.vmdk": the base name of the disk's descriptor) stands for.
func (h *harness) leaseDisk(vm *simulator.VirtualMachine, il *importLease, name string) (diskRef, error) {
	var urls []types.HttpNfcLeaseDeviceUrl
	h.model.Map().WithLock(&simulator.Context{}, il.lease, func() {
		if il.lease.Info != nil {
			urls = il.lease.Info.DeviceUrl
		}
	})
	known := false
	for _, u := range urls {
		known = known || u.TargetId == name
	}
	if !known {
		return diskRef{}, fmt.Errorf("%q is not a device URL of import lease %s", name, il.lease.Self.Value)
	}
	disks, err := h.vmDisks(vm)
	if err != nil {
		return diskRef{}, err
	}
	for _, d := range disks {
		var p object.DatastorePath
		if p.FromString(d.fileName) && path.Base(p.Path) == name {
			return d, nil
		}
	}
	return diskRef{}, fmt.Errorf("%q of import lease %s is not a disk of %s", name, il.lease.Self.Value, vm.Name)
}

// importDisk decodes the request body into the disk's data file while the
// simulator's own NFC handler reads the same bytes (for the lease manifest).
// It returns the simulator's status and the decoder's error.
func (h *harness) importDisk(r *http.Request, vm *simulator.VirtualMachine, disk diskRef) (streamStats, int, error) {
	f, err := os.OpenFile(disk.flatPath, os.O_RDWR, 0)
	if err != nil {
		return streamStats{}, 0, err
	}
	defer f.Close()
	// The stream is the whole new content: start from an empty disk.
	if err := f.Truncate(0); err != nil {
		return streamStats{}, 0, err
	}
	if err := f.Truncate(disk.capacity); err != nil {
		return streamStats{}, 0, err
	}
	h.mu.Lock()
	ld := h.live[liveKey(vm.Self.Value, disk.key)]
	h.mu.Unlock()

	pr, pw := io.Pipe()
	type result struct {
		stats streamStats
		err   error
	}
	done := make(chan result, 1)
	go func() {
		stats, err := decodeStreamOptimized(pr, f, disk.capacity, func(offset, length int64) {
			h.mu.Lock()
			h.stamp(ld, offset, length)
			h.mu.Unlock()
		})
		if err == nil {
			// Metadata after the end-of-stream marker is not content; read it
			// so that the simulator's handler sees the whole body.
			_, err = io.Copy(io.Discard, pr)
		}
		pr.CloseWithError(err)
		done <- result{stats, err}
	}()

	rec := &statusRecorder{header: http.Header{}, status: http.StatusOK}
	body := &bodyReader{r: r.Body}
	inner := r.Clone(r.Context())
	inner.Body = io.NopCloser(io.TeeReader(body, pw))
	simulator.ServeNFC(rec, inner)
	// A body cut off (a client gone, a chunked body without its last chunk)
	// must fail the decoder too, not look like the end of the stream.
	pw.CloseWithError(body.err)
	res := <-done
	if res.err != nil {
		return res.stats, rec.status, res.err
	}
	return res.stats, rec.status, f.Sync()
}
