package main

// A vCenter that restarts keeps its inventory; vcsim keeps it in memory only,
// so a stopped vcsim would come back as a different vCenter. With -state-dir
// the harness makes a stop and a start behave like a vCenter service restart:
// on SIGTERM it saves the inventory with govc's own object.save (the format
// Model.Load reads, as `vcsim -load` does), the snapshot objects object.save
// leaves out, the harness's disk state (change tracking, frozen snapshot
// disks) and its serving key; a start with the same -state-dir loads them,
// moves the datastore directories to where the loaded model wants them and
// serves with the same certificate. Clients see what they would see of a real
// restart: connections refused while it is down, every session and property
// filter gone, tasks that were running ended with an error, and everything
// else (VMs, snapshots, disk content, changeIds) kept.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/cli"
	_ "github.com/vmware/govmomi/cli/object" // registers object.save with cli.Run
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

const (
	inventoryDir  = "inventory"
	harnessFile   = "harness.json"
	stateCertFile = "tls.crt"
	stateKeyFile  = "tls.key"
)

// savedTracker and savedFrozen are tracker and frozenDisk as harness.json
// holds them; paths are kept as saved and rebased on load.
type savedTracker struct {
	VM             string   `json:"vm"`
	Key            int32    `json:"key"`
	ID             string   `json:"id"`
	Epoch          uint32   `json:"epoch"`
	LastCheckpoint uint32   `json:"lastCheckpoint"`
	Changed        []uint32 `json:"changed"`
}

type savedFrozen struct {
	VM        string   `json:"vm"`
	Key       int32    `json:"key"`
	FileName  string   `json:"fileName"`
	DescPath  string   `json:"descPath"`
	FlatPath  string   `json:"flatPath"`
	Capacity  int64    `json:"capacity"`
	ChangeID  string   `json:"changeId"`
	TrackerID string   `json:"trackerId"`
	Epoch     uint32   `json:"epoch"`
	Changed   []uint32 `json:"changed"`
}

type savedHarness struct {
	// Datastores maps each datastore's name to its directory when saved.
	Datastores map[string]string        `json:"datastores"`
	Trackers   []savedTracker           `json:"trackers"`
	Snapshots  map[string][]savedFrozen `json:"snapshots"`
	Counter    int                      `json:"counter"`
}

// stateSaved reports whether dir holds a saved simulator.
func stateSaved(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, harnessFile))
	return err == nil
}

// servingCertificate returns the certificate kept in the state directory, or
// makes one and keeps it there: a restarted vCenter presents the same
// certificate, so clients that pinned its thumbprint reconnect.
func servingCertificate(stateDir, listen string) (tls.Certificate, []byte, error) {
	if stateDir == "" {
		cert, certPEM, _, err := selfSignedCertificate(listen)
		return cert, certPEM, err
	}
	certPath, keyPath := filepath.Join(stateDir, stateCertFile), filepath.Join(stateDir, stateKeyFile)
	if certPEM, err := os.ReadFile(certPath); err == nil {
		keyPEM, err := os.ReadFile(keyPath)
		if err != nil {
			return tls.Certificate{}, nil, err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		return cert, certPEM, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return tls.Certificate{}, nil, err
	}
	cert, certPEM, keyPEM, err := selfSignedCertificate(listen)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, nil, err
	}
	return cert, certPEM, os.WriteFile(certPath, certPEM, 0o600)
}

// saveState writes the simulator to dir through its own API (server is the
// running simulator's URL, login included), and the harness's state beside it.
// The caller stops serving afterwards; nothing may change the model meanwhile
// that a client would expect to survive.
func (h *harness) saveState(dir string, server *url.URL) error {
	inventory := filepath.Join(dir, inventoryDir)
	if err := os.RemoveAll(inventory); err != nil {
		return err
	}
	// govc's object.save, in-process: the same code `govc object.save -d` runs.
	if rc := cli.Run([]string{"object.save", "-k", "-u", server.String(), "-d", inventory}); rc != 0 {
		return fmt.Errorf("govc object.save exited with %d", rc)
	}
	if err := h.saveSnapshots(inventory, server); err != nil {
		return fmt.Errorf("could not save the snapshots: %w", err)
	}
	data, err := json.Marshal(h.snapshotState())
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, harnessFile), data, 0o600)
}

// saveSnapshots writes the VirtualMachineSnapshot objects, which object.save
// does not reach (they are not managed entities), in its format.
func (h *harness) saveSnapshots(inventory string, server *url.URL) error {
	var refs []types.ManagedObjectReference
	for _, e := range h.model.Map().AllReference("VirtualMachineSnapshot") {
		refs = append(refs, e.Reference())
	}
	if len(refs) == 0 {
		return nil
	}
	ctx := context.Background()
	c, err := govmomi.NewClient(ctx, server, true)
	if err != nil {
		return err
	}
	defer func() { _ = c.Logout(ctx) }()
	var content []types.ObjectContent
	if err := property.DefaultCollector(c.Client).Retrieve(ctx, refs, nil, &content); err != nil {
		return err
	}
	for _, x := range content {
		x.MissingSet = nil
		f, err := os.Create(filepath.Join(inventory, "snapshot-"+x.Obj.Encode()+".xml"))
		if err != nil {
			return err
		}
		e := xml.NewEncoder(f)
		e.Indent("", "  ")
		err = e.Encode(x)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (h *harness) snapshotState() savedHarness {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := savedHarness{Datastores: map[string]string{}, Snapshots: map[string][]savedFrozen{}, Counter: h.counter}
	for _, e := range h.model.Map().All("Datastore") {
		if ds, ok := e.(*simulator.Datastore); ok {
			s.Datastores[ds.Name] = ds.Summary.Url
		}
	}
	for _, ld := range h.live {
		if t := ld.tracking; t != nil {
			s.Trackers = append(s.Trackers, savedTracker{VM: ld.vm, Key: ld.key, ID: t.id, Epoch: t.epoch, LastCheckpoint: t.lastCheckpoint, Changed: t.changed})
		}
	}
	for ref, disks := range h.snaps {
		for _, fd := range disks {
			s.Snapshots[ref] = append(s.Snapshots[ref], savedFrozen{
				VM: fd.vm, Key: fd.key, FileName: fd.fileName, DescPath: fd.descPath, FlatPath: fd.flatPath, Capacity: fd.capacity,
				ChangeID: fd.changeID, TrackerID: fd.trackerID, Epoch: fd.epoch, Changed: fd.changed,
			})
		}
	}
	return s
}

// loadModel loads a saved inventory into model (whose ServiceContent.about
// the caller has set) and moves each datastore's saved directory to the
// directory the loaded model gives it. It returns the harness state to
// restore once the harness exists, with its paths rebased.
func loadModel(model *simulator.Model, dir string) (*savedHarness, error) {
	data, err := os.ReadFile(filepath.Join(dir, harnessFile))
	if err != nil {
		return nil, err
	}
	var saved savedHarness
	if err := json.Unmarshal(data, &saved); err != nil {
		return nil, fmt.Errorf("%s: %w", harnessFile, err)
	}
	if err := model.Load(filepath.Join(dir, inventoryDir)); err != nil {
		return nil, fmt.Errorf("loading the saved inventory: %w", err)
	}
	// Model.Load has no simulator type for snapshots: it registers them as
	// plain mo objects, which the simulator's own snapshot methods cannot use.
	for _, e := range model.Map().AllReference("VirtualMachineSnapshot") {
		if plain, ok := e.(*mo.VirtualMachineSnapshot); ok {
			model.Map().Put(&simulator.VirtualMachineSnapshot{VirtualMachineSnapshot: *plain})
		}
	}
	var moves []string // old prefix, new prefix, ...
	for _, e := range model.Map().All("Datastore") {
		ds, ok := e.(*simulator.Datastore)
		if !ok {
			continue
		}
		old, ok := saved.Datastores[ds.Name]
		if !ok || old == ds.Summary.Url {
			continue
		}
		// Model.Load made an empty directory for the datastore; the saved one takes its place.
		if err := os.Remove(ds.Summary.Url); err != nil {
			return nil, err
		}
		if err := os.Rename(old, ds.Summary.Url); err != nil {
			return nil, fmt.Errorf("moving datastore %s: %w", ds.Name, err)
		}
		moves = append(moves, strings.TrimSuffix(old, "/")+"/", strings.TrimSuffix(ds.Summary.Url, "/")+"/")
	}
	rebase := strings.NewReplacer(moves...)
	for ref, disks := range saved.Snapshots {
		for i := range disks {
			disks[i].DescPath = rebase.Replace(disks[i].DescPath)
			disks[i].FlatPath = rebase.Replace(disks[i].FlatPath)
		}
		saved.Snapshots[ref] = disks
	}
	endInterruptedTasks(model)
	return &saved, nil
}

// endInterruptedTasks fails the tasks that were queued or running when the
// simulator stopped: a restarted vCenter does not resume them, and a client
// waiting on one must not wait forever.
func endInterruptedTasks(model *simulator.Model) {
	for _, e := range model.Map().AllReference("Task") {
		task, ok := e.(*simulator.Task)
		if !ok || (task.Info.State != types.TaskInfoStateRunning && task.Info.State != types.TaskInfoStateQueued) {
			continue
		}
		task.Info.State = types.TaskInfoStateError
		task.Info.Error = &types.LocalizedMethodFault{
			Fault:            &types.RequestCanceled{},
			LocalizedMessage: "the vCenter Server restarted while the task ran",
		}
		log.Printf("task %s (%s) ended: the simulator restarted while it ran", task.Self.Value, task.Info.DescriptionId)
	}
}

// restoreState gives the harness the change tracking and the frozen disks it
// had when saved. It runs before prepareAllDisks, which finds the disks'
// files and keeps the trackers it finds here.
func (h *harness) restoreState(saved *savedHarness) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counter = saved.Counter
	for _, t := range saved.Trackers {
		h.live[liveKey(t.VM, t.Key)] = &liveDisk{vm: t.VM, key: t.Key, tracking: &tracker{id: t.ID, epoch: t.Epoch, lastCheckpoint: t.LastCheckpoint, changed: t.Changed}}
	}
	for ref, disks := range saved.Snapshots {
		for _, d := range disks {
			h.snaps[ref] = append(h.snaps[ref], &frozenDisk{
				vm: d.VM, key: d.Key, fileName: d.FileName, descPath: d.DescPath, flatPath: d.FlatPath, capacity: d.Capacity,
				changeID: d.ChangeID, trackerID: d.TrackerID, epoch: d.Epoch, changed: d.Changed,
			})
		}
	}
}
