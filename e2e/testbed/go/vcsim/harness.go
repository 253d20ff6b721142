package main

// The harness extensions: real disk content, point-in-time snapshot content
// and changed block tracking (see README.md). The simulator keeps its own
// inventory objects; the harness hooks the few methods it extends through
// Registry.Handler, which lets a method call be served by a wrapper around the
// registered object without replacing that object in the registry (the
// simulator's own code type-asserts registry entries to its own types).

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vmdk"
)

const (
	seekData = 3 // SEEK_DATA (Linux): next offset holding data
	seekHole = 4 // SEEK_HOLE (Linux): next hole
)

// tracker is the changed block tracking state of one live disk. Every write
// stamps its blocks with the current epoch; a snapshot closes the epoch, so
// the changeId "<id>/<n>" names the disk content at the end of epoch n and
// the blocks changed since then are those stamped with an epoch after n.
type tracker struct {
	id             string
	epoch          uint32
	lastCheckpoint uint32
	changed        []uint32
}

func (t *tracker) changeID() string { return fmt.Sprintf("%s/%d", t.id, t.lastCheckpoint) }

// liveDisk is the harness's view of one virtual disk of a VM.
type liveDisk struct {
	vm       string
	key      int32
	flatPath string
	capacity int64
	tracking *tracker // nil while change tracking is off
}

// frozenDisk is a disk as a snapshot preserved it: a full copy of the live
// data file at snapshot time (holes stay holes) and the tracking stamps of
// that moment.
type frozenDisk struct {
	vm        string
	key       int32
	fileName  string // datastore path of the descriptor, e.g. "[LocalDS_0] vm/disk1-lbsnap-3.vmdk"
	descPath  string
	flatPath  string
	capacity  int64
	changeID  string // "" when change tracking was off
	trackerID string
	epoch     uint32
	changed   []uint32
}

type harness struct {
	model     *simulator.Model
	username  string
	password  string
	blockSize int64
	pageBytes int64

	mu      sync.Mutex // guards the maps below and all disk data I/O
	live    map[string]*liveDisk
	byFlat  map[string]*liveDisk
	snaps   map[string][]*frozenDisk // by snapshot MoRef value
	leases  map[string]*importLease  // import leases by MoRef value, until completed or aborted
	counter int
}

func newHarness(model *simulator.Model, username, password string, blockSize, pageBytes int64) *harness {
	return &harness{
		model:     model,
		username:  username,
		password:  password,
		blockSize: blockSize,
		pageBytes: pageBytes / blockSize * blockSize,
		live:      map[string]*liveDisk{},
		byFlat:    map[string]*liveDisk{},
		snaps:     map[string][]*frozenDisk{},
		leases:    map[string]*importLease{},
	}
}

// diskRef describes one VirtualDisk device of a VM as configured.
type diskRef struct {
	key      int32
	fileName string
	flatPath string
	capacity int64
	backing  *types.VirtualDiskFlatVer2BackingInfo // nil for other backing kinds
	// notSnapshotted: an independent disk or a physical-mode RDM, which a
	// vSphere snapshot leaves out: it goes on reading and writing the live
	// disk, and the snapshot's backing names the live file.
	notSnapshotted bool
}

// notSnapshotted says whether vSphere leaves the disk out of snapshots:
// independent disks ("Independent disks are not affected by snapshots") and
// raw device mappings in physical compatibility mode.
func notSnapshotted(backing types.BaseVirtualDeviceBackingInfo) bool {
	switch b := backing.(type) {
	case *types.VirtualDiskFlatVer2BackingInfo:
		return strings.HasPrefix(b.DiskMode, "independent")
	case *types.VirtualDiskRawDiskMappingVer1BackingInfo:
		return b.CompatibilityMode == string(types.VirtualDiskCompatibilityModePhysicalMode) || strings.HasPrefix(b.DiskMode, "independent")
	case *types.VirtualDiskSparseVer2BackingInfo:
		return strings.HasPrefix(b.DiskMode, "independent")
	}
	return false
}

func liveKey(vm string, key int32) string { return fmt.Sprintf("%s/%d", vm, key) }

// flatName maps a descriptor name to its data file, as vcsim and ESX name
// flat extents: "disk1.vmdk" -> "disk1-flat.vmdk".
func flatName(descriptor string) string {
	return strings.TrimSuffix(descriptor, ".vmdk") + "-flat.vmdk"
}

func (h *harness) datastoreDir(ref *types.ManagedObjectReference, name string) (string, error) {
	if ref != nil {
		if ds, ok := h.model.Map().Get(*ref).(*simulator.Datastore); ok {
			return ds.Summary.Url, nil
		}
	}
	for _, e := range h.model.Map().All("Datastore") {
		if ds, ok := e.(*simulator.Datastore); ok && ds.Name == name {
			return ds.Summary.Url, nil
		}
	}
	return "", fmt.Errorf("datastore %q not found", name)
}

// datastoreRoot is the parent directory of the datastore directories.
func (h *harness) datastoreRoot() string {
	for _, e := range h.model.Map().All("Datastore") {
		if ds, ok := e.(*simulator.Datastore); ok {
			return filepath.Dir(ds.Summary.Url)
		}
	}
	return ""
}

// disksOf lists the VM's disks. The caller holds the VM's lock.
func (h *harness) disksOf(vm *simulator.VirtualMachine) ([]diskRef, error) {
	if vm.Config == nil {
		return nil, nil
	}
	var out []diskRef
	for _, dev := range vm.Config.Hardware.Device {
		disk, ok := dev.(*types.VirtualDisk)
		if !ok {
			continue
		}
		fb, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo)
		if !ok {
			continue
		}
		info := fb.GetVirtualDeviceFileBackingInfo()
		var p object.DatastorePath
		if !p.FromString(info.FileName) {
			return nil, fmt.Errorf("disk %d of %s has an unparsable file name %q", disk.Key, vm.Name, info.FileName)
		}
		dir, err := h.datastoreDir(info.Datastore, p.Datastore)
		if err != nil {
			return nil, err
		}
		capacity := disk.CapacityInBytes
		if capacity == 0 {
			capacity = disk.CapacityInKB * 1024
		}
		ref := diskRef{
			key:      disk.Key,
			fileName: info.FileName,
			flatPath: filepath.Join(dir, flatName(p.Path)),
			capacity: capacity,
		}
		ref.backing, _ = disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		ref.notSnapshotted = notSnapshotted(disk.Backing)
		out = append(out, ref)
	}
	return out, nil
}

// register records (or refreshes) a live disk. The caller holds h.mu.
func (h *harness) register(vm string, d diskRef) *liveDisk {
	k := liveKey(vm, d.key)
	ld := h.live[k]
	if ld == nil {
		ld = &liveDisk{vm: vm, key: d.key}
		h.live[k] = ld
	}
	if ld.flatPath != d.flatPath {
		delete(h.byFlat, ld.flatPath)
		ld.flatPath = d.flatPath
	}
	h.byFlat[ld.flatPath] = ld
	ld.capacity = d.capacity
	if ld.tracking != nil {
		ld.tracking.changed = grow(ld.tracking.changed, h.blocks(d.capacity))
	}
	return ld
}

func (h *harness) blocks(capacity int64) int { return int((capacity + h.blockSize - 1) / h.blockSize) }

func grow(s []uint32, n int) []uint32 {
	if len(s) >= n {
		return s
	}
	return append(s, make([]uint32, n-len(s))...)
}

// sizeFile makes the disk's data file exist with the disk's capacity; the
// extension is sparse, so a 10 GiB disk costs nothing until written.
func sizeFile(flatPath string, capacity int64) error {
	f, err := os.OpenFile(flatPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() < capacity {
		return f.Truncate(capacity)
	}
	return nil
}

// prepareVM gives every disk of the VM its data file and its change tracking
// state as the VM's configuration says, and publishes the changeIds on the
// disk backings. The caller holds the VM's lock; prepareVM takes h.mu.
func (h *harness) prepareVM(vm *simulator.VirtualMachine) (bool, error) {
	disks, err := h.disksOf(vm)
	if err != nil {
		return false, err
	}
	enabled := vm.Config != nil && vm.Config.ChangeTrackingEnabled != nil && *vm.Config.ChangeTrackingEnabled
	h.mu.Lock()
	defer h.mu.Unlock()
	changed := false
	for _, d := range disks {
		if err := sizeFile(d.flatPath, d.capacity); err != nil {
			return changed, fmt.Errorf("disk %d of %s: %w", d.key, vm.Name, err)
		}
		ld := h.register(vm.Self.Value, d)
		if enabled && ld.tracking == nil {
			ld.tracking = &tracker{id: uuid.NewString(), epoch: 1, changed: make([]uint32, h.blocks(d.capacity))}
		}
		if !enabled {
			ld.tracking = nil
		}
		want := ""
		if ld.tracking != nil {
			want = ld.tracking.changeID()
		}
		if d.backing != nil && d.backing.ChangeId != want {
			d.backing.ChangeId = want
			changed = true
		}
	}
	return changed, nil
}

// publishDevices tells property collectors that the VM's devices changed
// (the changeIds live in the disk backings).
func publishDevices(ctx *simulator.Context, vm *simulator.VirtualMachine) {
	ctx.Update(vm, []types.PropertyChange{{Name: "config.hardware.device", Val: vm.Config.Hardware.Device}})
}

// prepareAllDisks runs prepareVM for every VM at start-up.
func (h *harness) prepareAllDisks() error {
	lockCtx := &simulator.Context{}
	for _, e := range h.model.Map().All("VirtualMachine") {
		vm, ok := e.(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		var err error
		h.model.Map().WithLock(lockCtx, vm, func() { _, err = h.prepareVM(vm) })
		if err != nil {
			return err
		}
	}
	return nil
}

// findVM looks a VM up by MoRef value ("vm-42") or by name.
func (h *harness) findVM(id string) *simulator.VirtualMachine {
	if vm, ok := h.model.Map().Get(types.ManagedObjectReference{Type: "VirtualMachine", Value: id}).(*simulator.VirtualMachine); ok {
		return vm
	}
	for _, e := range h.model.Map().All("VirtualMachine") {
		if vm, ok := e.(*simulator.VirtualMachine); ok && vm.Name == id {
			return vm
		}
	}
	return nil
}

// vmDisks prepares the VM and returns its disks, taking the VM's lock on
// behalf of an HTTP request of the harness.
func (h *harness) vmDisks(vm *simulator.VirtualMachine) ([]diskRef, error) {
	var disks []diskRef
	var err error
	h.model.Map().WithLock(&simulator.Context{}, vm, func() {
		if _, err = h.prepareVM(vm); err == nil {
			disks, err = h.disksOf(vm)
		}
	})
	return disks, err
}

// writeLive writes length bytes from r at offset into the VM's live disk and
// stamps the blocks it touched, as a guest write would.
func (h *harness) writeLive(vm *simulator.VirtualMachine, key int32, offset, length int64, r io.Reader) error {
	disks, err := h.vmDisks(vm)
	if err != nil {
		return err
	}
	var d *diskRef
	for i := range disks {
		if disks[i].key == key || (key == 0 && i == 0) {
			d = &disks[i]
			break
		}
	}
	if d == nil {
		return fmt.Errorf("VM %s has no disk with key %d", vm.Name, key)
	}
	if offset < 0 || length < 0 || offset+length > d.capacity {
		return fmt.Errorf("range [%d, %d) is outside the disk (capacity %d)", offset, offset+length, d.capacity)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	f, err := os.OpenFile(d.flatPath, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.CopyN(io.NewOffsetWriter(f, offset), r, length)
	if n > 0 {
		h.stamp(h.live[liveKey(vm.Self.Value, d.key)], offset, n)
	}
	if err != nil {
		return fmt.Errorf("wrote %d of %d bytes: %w", n, length, err)
	}
	return nil
}

// stamp marks [offset, offset+n) as changed in the current epoch. The caller holds h.mu.
func (h *harness) stamp(ld *liveDisk, offset, n int64) {
	if ld == nil || ld.tracking == nil || n <= 0 {
		return
	}
	t := ld.tracking
	for b := offset / h.blockSize; b <= (offset+n-1)/h.blockSize && int(b) < len(t.changed); b++ {
		t.changed[b] = t.epoch
	}
}

// afterUpload follows a whole-file upload through the datastore interface
// (PUT /folder/...) to the file at p: when it is a disk's data, the new
// content replaces the disk, so every block changed, and the file keeps the
// disk's capacity.
func (h *harness) afterUpload(p string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ld := h.byFlat[p]
	if ld == nil {
		return
	}
	_ = sizeFile(p, ld.capacity)
	h.stamp(ld, 0, ld.capacity)
}

// copySparse copies the data extents of src into dst (same offsets), so the
// holes of a sparse disk stay holes, then sets dst's size.
func copySparse(dst, src *os.File, size int64) error {
	buf := make([]byte, 1<<20)
	off := int64(0)
	for off < size {
		data, err := src.Seek(off, seekData)
		if errors.Is(err, syscall.ENXIO) {
			break
		}
		if err != nil {
			return err
		}
		hole, err := src.Seek(data, seekHole)
		if err != nil {
			return err
		}
		end := min(hole, size)
		if data < end {
			if _, err := io.CopyBuffer(io.NewOffsetWriter(dst, data), io.NewSectionReader(src, data, end-data), buf); err != nil {
				return err
			}
		}
		off = hole
	}
	return dst.Truncate(size)
}

// freeze copies every disk of the VM that snapshots capture to a new file
// that belongs to the snapshot about to be taken, and closes the tracking
// epoch. The caller holds
// the VM's lock.
func (h *harness) freeze(vm *simulator.VirtualMachine) ([]*frozenDisk, error) {
	if _, err := h.prepareVM(vm); err != nil {
		return nil, err
	}
	disks, err := h.disksOf(vm)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var frozen []*frozenDisk
	for _, d := range disks {
		ld := h.register(vm.Self.Value, d)
		if d.notSnapshotted {
			continue
		}
		h.counter++
		var p object.DatastorePath
		p.FromString(d.fileName)
		base := strings.TrimSuffix(p.Path, ".vmdk")
		descRel := fmt.Sprintf("%s-lbsnap-%d.vmdk", base, h.counter)
		dir := filepath.Dir(d.flatPath)
		fd := &frozenDisk{
			vm:       vm.Self.Value,
			key:      d.key,
			fileName: (&object.DatastorePath{Datastore: p.Datastore, Path: descRel}).String(),
			descPath: filepath.Join(dir, path.Base(descRel)),
			flatPath: filepath.Join(dir, path.Base(flatName(descRel))),
			capacity: d.capacity,
		}
		if err := writeFrozen(fd, d.flatPath); err != nil {
			removeFrozen(append(frozen, fd))
			return nil, fmt.Errorf("could not preserve disk %d of %s: %w", d.key, vm.Name, err)
		}
		if t := ld.tracking; t != nil {
			fd.trackerID = t.id
			fd.epoch = t.epoch
			fd.changeID = fmt.Sprintf("%s/%d", t.id, t.epoch)
			fd.changed = append([]uint32(nil), t.changed...)
			t.epoch++
		}
		frozen = append(frozen, fd)
	}
	return frozen, nil
}

func writeFrozen(fd *frozenDisk, livePath string) error {
	src, err := os.Open(livePath)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(fd.flatPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := copySparse(dst, src, fd.capacity); err != nil {
		return err
	}
	desc, err := os.OpenFile(fd.descPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer desc.Close()
	return vmdk.NewDescriptor(vmdk.Extent{Size: fd.capacity / vmdk.SectorSize, Info: filepath.Base(fd.flatPath)}).Write(desc)
}

func removeFrozen(disks []*frozenDisk) {
	for _, fd := range disks {
		_ = os.Remove(fd.flatPath)
		_ = os.Remove(fd.descPath)
	}
}

// attach points the new snapshot's disk backings at the frozen copies and
// publishes the changeIds. The caller holds the VM's lock.
func (h *harness) attach(ctx *simulator.Context, vm *simulator.VirtualMachine, snapRef types.ManagedObjectReference, frozen []*frozenDisk) types.BaseMethodFault {
	snap, ok := ctx.Map.Get(snapRef).(*simulator.VirtualMachineSnapshot)
	if !ok {
		removeFrozen(frozen)
		return &types.ManagedObjectNotFound{Obj: snapRef}
	}
	for _, dev := range snap.Config.Hardware.Device {
		disk, ok := dev.(*types.VirtualDisk)
		if !ok {
			continue
		}
		for _, fd := range frozen {
			if fd.key != disk.Key {
				continue
			}
			if fb, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
				fb.GetVirtualDeviceFileBackingInfo().FileName = fd.fileName
			}
			if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
				b.ChangeId = fd.changeID
			}
		}
	}
	h.mu.Lock()
	h.snaps[snapRef.Value] = frozen
	for _, fd := range frozen {
		if ld := h.live[liveKey(vm.Self.Value, fd.key)]; ld != nil && ld.tracking != nil && ld.tracking.id == fd.trackerID {
			ld.tracking.lastCheckpoint = fd.epoch
		}
	}
	h.mu.Unlock()
	if changed, err := h.prepareVM(vm); err == nil && changed {
		publishDevices(ctx, vm)
	}
	return nil
}

// collect forgets the frozen disks of snapshots (and VMs) that no longer
// exist, deleting their files.
func (h *harness) collect(ctx *simulator.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ref, disks := range h.snaps {
		if ctx.Map.Get(types.ManagedObjectReference{Type: "VirtualMachineSnapshot", Value: ref}) == nil {
			removeFrozen(disks)
			delete(h.snaps, ref)
		}
	}
	for k, ld := range h.live {
		if ctx.Map.Get(types.ManagedObjectReference{Type: "VirtualMachine", Value: ld.vm}) == nil {
			delete(h.byFlat, ld.flatPath)
			delete(h.live, k)
		}
	}
}

func methodFault(msg string, fault types.BaseMethodFault) types.BaseMethodFault {
	fault.GetMethodFault().FaultMessage = []types.LocalizableMessage{{Key: "lifeboat.harness", Message: msg}}
	return fault
}

// queryChanged implements QueryChangedDiskAreas. The caller holds the VM's lock.
func (h *harness) queryChanged(ctx *simulator.Context, vm *simulator.VirtualMachine, req *types.QueryChangedDiskAreas) (*types.DiskChangeInfo, string, types.BaseMethodFault) {
	if _, err := h.prepareVM(vm); err != nil {
		return nil, err.Error(), &types.FileFault{}
	}
	h.mu.Lock()
	defer h.mu.Unlock()

	var (
		file     string
		capacity int64
		changed  []uint32
		id       string
		epoch    uint32
	)
	if req.Snapshot != nil {
		disks, ok := h.snaps[req.Snapshot.Value]
		if !ok {
			if ctx.Map.Get(*req.Snapshot) == nil {
				return nil, "snapshot not found", &types.ManagedObjectNotFound{Obj: *req.Snapshot}
			}
			return nil, "snapshot has no preserved disks", &types.FileFault{}
		}
		var fd *frozenDisk
		for _, d := range disks {
			if d.key == req.DeviceKey {
				fd = d
			}
		}
		if fd == nil || fd.vm != vm.Self.Value {
			return nil, fmt.Sprintf("snapshot %s of this VM has no disk with key %d", req.Snapshot.Value, req.DeviceKey), &types.InvalidArgument{InvalidProperty: "deviceKey"}
		}
		if fd.changeID == "" {
			return nil, "change tracking was not enabled on the disk when the snapshot was taken", &types.FileFault{File: fd.fileName}
		}
		file, capacity, changed, id, epoch = fd.flatPath, fd.capacity, fd.changed, fd.trackerID, fd.epoch
	} else {
		if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
			return nil, "without a snapshot, changes can only be queried on a powered-off VM", &types.InvalidState{}
		}
		ld := h.live[liveKey(vm.Self.Value, req.DeviceKey)]
		if ld == nil {
			return nil, fmt.Sprintf("the VM has no disk with key %d", req.DeviceKey), &types.InvalidArgument{InvalidProperty: "deviceKey"}
		}
		if ld.tracking == nil {
			return nil, "change tracking is not enabled on the disk", &types.FileFault{}
		}
		file, capacity, changed, id, epoch = ld.flatPath, ld.capacity, ld.tracking.changed, ld.tracking.id, ld.tracking.epoch
	}

	start := req.StartOffset
	if start < 0 || start >= capacity {
		return nil, fmt.Sprintf("startOffset %d is outside the disk (capacity %d)", start, capacity), &types.InvalidArgument{InvalidProperty: "startOffset"}
	}
	end := min(capacity, start/h.blockSize*h.blockSize+h.pageBytes)
	info := &types.DiskChangeInfo{StartOffset: start, Length: end - start}

	add := func(from, to int64) {
		from, to = max(from, start), min(to, end)
		if from >= to {
			return
		}
		n := len(info.ChangedArea)
		if n > 0 && info.ChangedArea[n-1].Start+info.ChangedArea[n-1].Length == from {
			info.ChangedArea[n-1].Length += to - from
			return
		}
		info.ChangedArea = append(info.ChangedArea, types.DiskChangeExtent{Start: from, Length: to - from})
	}

	if req.ChangeId == "*" {
		if err := h.nonZero(file, start, end, add); err != nil {
			return nil, err.Error(), &types.FileFault{}
		}
		return info, "", nil
	}
	slash := strings.LastIndex(req.ChangeId, "/")
	since, perr := strconv.ParseUint(req.ChangeId[slash+1:], 10, 32)
	if slash < 0 || perr != nil || req.ChangeId[:slash] != id || uint32(since) > epoch {
		return nil, fmt.Sprintf("changeId %q does not belong to the current change tracking session of this disk", req.ChangeId), &types.InvalidArgument{InvalidProperty: "changeId"}
	}
	for b := start / h.blockSize; b*h.blockSize < end && int(b) < len(changed); b++ {
		if changed[b] > uint32(since) {
			add(b*h.blockSize, (b+1)*h.blockSize)
		}
	}
	return info, "", nil
}

// nonZero reports the blocks of file in [start, end) that hold any non-zero
// byte, skipping holes without reading them.
func (h *harness) nonZero(file string, start, end int64, add func(from, to int64)) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, h.blockSize)
	off := start / h.blockSize * h.blockSize
	for off < end {
		data, err := f.Seek(off, seekData)
		if errors.Is(err, syscall.ENXIO) {
			return nil
		}
		if err != nil {
			return err
		}
		hole, err := f.Seek(data, seekHole)
		if err != nil {
			return err
		}
		b := data / h.blockSize * h.blockSize
		for ; b < min(hole, end); b += h.blockSize {
			n, err := f.ReadAt(buf, b)
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			for _, c := range buf[:n] {
				if c != 0 {
					add(b, b+h.blockSize)
					break
				}
			}
		}
		off = max(b, off+h.blockSize)
	}
	return nil
}

// chain runs a simulator task method (inner) between the harness's own steps
// as one task: the client's task completes only after post has run, and a
// failure in any step fails the task.
func chain(ctx *simulator.Context, entity types.ManagedObjectReference, name string,
	pre func() types.BaseMethodFault,
	inner func() soap.HasFault,
	post func(result types.AnyType) (types.AnyType, types.BaseMethodFault),
	abort func(),
) types.ManagedObjectReference {
	var task *simulator.Task
	task = simulator.CreateTask(entity, name, func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		progress := func(p int32) {
			ctx.Map.AtomicUpdate(ctx, task, []types.PropertyChange{{Name: "info.progress", Val: p}})
		}
		if pre != nil {
			if fault := pre(); fault != nil {
				return nil, fault
			}
			progress(40)
		}
		fail := func(fault types.BaseMethodFault) (types.AnyType, types.BaseMethodFault) {
			if abort != nil {
				abort()
			}
			return nil, fault
		}
		body := inner()
		if f := body.Fault(); f != nil {
			if fault, ok := f.VimFault().(types.BaseMethodFault); ok {
				return fail(fault)
			}
			return fail(methodFault(f.String, &types.SystemError{Reason: f.String}))
		}
		ref, ok := taskOf(body)
		if !ok {
			return fail(methodFault("the simulator returned no task", &types.SystemError{}))
		}
		innerTask, ok := ctx.Map.Get(ref).(*simulator.Task)
		if !ok {
			return fail(methodFault("the simulator's task vanished", &types.SystemError{}))
		}
		innerTask.Wait()
		progress(80)
		if innerTask.Info.State == types.TaskInfoStateError {
			if innerTask.Info.Error != nil && innerTask.Info.Error.Fault != nil {
				return fail(innerTask.Info.Error.Fault)
			}
			return fail(methodFault("the simulator's task failed", &types.SystemError{}))
		}
		if post == nil {
			return innerTask.Info.Result, nil
		}
		return post(innerTask.Info.Result)
	})
	return task.Run(ctx)
}

// taskOf extracts the task MoRef from a "..._TaskBody" response.
func taskOf(body soap.HasFault) (types.ManagedObjectReference, bool) {
	var ref *types.ManagedObjectReference
	switch b := body.(type) {
	case *methods.CreateSnapshotEx_TaskBody:
		if b.Res != nil {
			ref = &b.Res.Returnval
		}
	case *methods.RemoveSnapshot_TaskBody:
		if b.Res != nil {
			ref = &b.Res.Returnval
		}
	case *methods.RemoveAllSnapshots_TaskBody:
		if b.Res != nil {
			ref = &b.Res.Returnval
		}
	case *methods.ReconfigVM_TaskBody:
		if b.Res != nil {
			ref = &b.Res.Returnval
		}
	case *methods.Destroy_TaskBody:
		if b.Res != nil {
			ref = &b.Res.Returnval
		}
	case *methods.CreateVM_TaskBody:
		if b.Res != nil {
			ref = &b.Res.Returnval
		}
	}
	if ref == nil {
		return types.ManagedObjectReference{}, false
	}
	return *ref, true
}

// dispatch is the Registry.Handler: it serves the extended methods with a
// harness wrapper around the registered object.
//
// For a logged-in caller the simulator looks the object up once more in the
// session (Session.Get, which falls back to the global registry and would
// undo the wrapping). The request's Session is its own copy, so giving that
// copy an overlay registry holding just the wrapper routes this one call to
// the harness and leaves the stored session untouched.
//
// Wrappers of objects the simulator keeps in the session (import leases) or
// creates there (ImportVApp makes a lease) get the session's own registry,
// and put it back before calling the simulator's method.
func (h *harness) dispatch(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
	obj := h.wrapperFor(ctx, m)
	if obj == nil {
		return nil, nil
	}
	if ctx.Session != nil {
		overlay := simulator.NewRegistry()
		overlay.Put(obj)
		ctx.Session.Registry = overlay
	}
	return obj, nil
}

func (h *harness) wrapperFor(ctx *simulator.Context, m *simulator.Method) mo.Reference {
	switch m.This.Type {
	case "VirtualMachine":
		switch m.Name {
		case "CreateSnapshot_Task", "CreateSnapshotEx_Task", "RemoveAllSnapshots_Task", "ReconfigVM_Task", "Destroy_Task", "QueryChangedDiskAreas":
			if vm, ok := ctx.Map.Get(m.This).(*simulator.VirtualMachine); ok {
				return &harnessVM{VirtualMachine: vm, h: h}
			}
		}
	case "VirtualMachineSnapshot":
		if m.Name == "RemoveSnapshot_Task" {
			if s, ok := ctx.Map.Get(m.This).(*simulator.VirtualMachineSnapshot); ok {
				return &harnessSnapshot{VirtualMachineSnapshot: s, h: h}
			}
		}
	case "ResourcePool":
		if m.Name == "ImportVApp" && ctx.Session != nil {
			if p, ok := ctx.Map.Get(m.This).(*simulator.ResourcePool); ok {
				return &harnessPool{ResourcePool: p, h: h, registry: ctx.Session.Registry}
			}
		}
	case "HttpNfcLease":
		if (m.Name == "HttpNfcLeaseComplete" || m.Name == "HttpNfcLeaseAbort") && ctx.Session != nil {
			h.mu.Lock()
			_, tracked := h.leases[m.This.Value]
			h.mu.Unlock()
			if l, ok := ctx.Session.Get(m.This).(*simulator.HttpNfcLease); ok && tracked {
				return &harnessLease{HttpNfcLease: l, h: h, registry: ctx.Session.Registry}
			}
		}
	case "Folder":
		if m.Name == "CreateVM_Task" {
			if f, ok := ctx.Map.Get(m.This).(*simulator.Folder); ok {
				return &harnessFolder{Folder: f, h: h}
			}
		}
	}
	return nil
}

type harnessVM struct {
	*simulator.VirtualMachine
	h *harness
}

func (vm *harnessVM) snapshotTask(ctx *simulator.Context, req *types.CreateSnapshotEx_Task) types.ManagedObjectReference {
	var frozen []*frozenDisk
	return chain(ctx, vm.Self, "createSnapshotTask",
		func() types.BaseMethodFault {
			var err error
			frozen, err = vm.h.freeze(vm.VirtualMachine)
			if err != nil {
				return methodFault(err.Error(), &types.FileFault{})
			}
			return nil
		},
		func() soap.HasFault { return vm.VirtualMachine.CreateSnapshotExTask(ctx, req) },
		func(result types.AnyType) (types.AnyType, types.BaseMethodFault) {
			ref, ok := result.(types.ManagedObjectReference)
			if !ok {
				removeFrozen(frozen)
				return nil, methodFault("the simulator returned no snapshot", &types.SystemError{})
			}
			if fault := vm.h.attach(ctx, vm.VirtualMachine, ref, frozen); fault != nil {
				return nil, fault
			}
			return ref, nil
		},
		func() { removeFrozen(frozen) },
	)
}

func (vm *harnessVM) CreateSnapshotTask(ctx *simulator.Context, req *types.CreateSnapshot_Task) soap.HasFault {
	ex := &types.CreateSnapshotEx_Task{This: req.This, Name: req.Name, Description: req.Description, Memory: req.Memory}
	if req.Quiesce {
		ex.QuiesceSpec = &types.VirtualMachineGuestQuiesceSpec{}
	}
	return &methods.CreateSnapshot_TaskBody{Res: &types.CreateSnapshot_TaskResponse{Returnval: vm.snapshotTask(ctx, ex)}}
}

func (vm *harnessVM) CreateSnapshotExTask(ctx *simulator.Context, req *types.CreateSnapshotEx_Task) soap.HasFault {
	return &methods.CreateSnapshotEx_TaskBody{Res: &types.CreateSnapshotEx_TaskResponse{Returnval: vm.snapshotTask(ctx, req)}}
}

func (vm *harnessVM) collectAfter(ctx *simulator.Context, name string, inner func() soap.HasFault) types.ManagedObjectReference {
	return chain(ctx, vm.Self, name, nil, inner, func(result types.AnyType) (types.AnyType, types.BaseMethodFault) {
		vm.h.collect(ctx)
		return result, nil
	}, nil)
}

func (vm *harnessVM) RemoveAllSnapshotsTask(ctx *simulator.Context, req *types.RemoveAllSnapshots_Task) soap.HasFault {
	ref := vm.collectAfter(ctx, "removeAllSnapshotsTask", func() soap.HasFault { return vm.VirtualMachine.RemoveAllSnapshotsTask(ctx, req) })
	return &methods.RemoveAllSnapshots_TaskBody{Res: &types.RemoveAllSnapshots_TaskResponse{Returnval: ref}}
}

func (vm *harnessVM) DestroyTask(ctx *simulator.Context, req *types.Destroy_Task) soap.HasFault {
	ref := vm.collectAfter(ctx, "destroyTask", func() soap.HasFault { return vm.VirtualMachine.DestroyTask(ctx, req) })
	return &methods.Destroy_TaskBody{Res: &types.Destroy_TaskResponse{Returnval: ref}}
}

func (vm *harnessVM) ReconfigVMTask(ctx *simulator.Context, req *types.ReconfigVM_Task) soap.HasFault {
	ref := chain(ctx, vm.Self, "reconfigVMTask", nil,
		func() soap.HasFault { return vm.VirtualMachine.ReconfigVMTask(ctx, req) },
		func(result types.AnyType) (types.AnyType, types.BaseMethodFault) {
			changed, err := vm.h.prepareVM(vm.VirtualMachine)
			if err != nil {
				return nil, methodFault(err.Error(), &types.FileFault{})
			}
			if changed {
				publishDevices(ctx, vm.VirtualMachine)
			}
			return result, nil
		}, nil)
	return &methods.ReconfigVM_TaskBody{Res: &types.ReconfigVM_TaskResponse{Returnval: ref}}
}

func (vm *harnessVM) QueryChangedDiskAreas(ctx *simulator.Context, req *types.QueryChangedDiskAreas) soap.HasFault {
	body := new(methods.QueryChangedDiskAreasBody)
	info, msg, fault := vm.h.queryChanged(ctx, vm.VirtualMachine, req)
	if fault != nil {
		body.Fault_ = simulator.Fault(msg, methodFault(msg, fault))
		return body
	}
	body.Res = &types.QueryChangedDiskAreasResponse{Returnval: *info}
	return body
}

type harnessSnapshot struct {
	*simulator.VirtualMachineSnapshot
	h *harness
}

func (s *harnessSnapshot) RemoveSnapshotTask(ctx *simulator.Context, req *types.RemoveSnapshot_Task) soap.HasFault {
	ref := chain(ctx, s.Vm, "removeSnapshotTask", nil,
		func() soap.HasFault { return s.VirtualMachineSnapshot.RemoveSnapshotTask(ctx, req) },
		func(result types.AnyType) (types.AnyType, types.BaseMethodFault) {
			s.h.collect(ctx)
			return result, nil
		}, nil)
	return &methods.RemoveSnapshot_TaskBody{Res: &types.RemoveSnapshot_TaskResponse{Returnval: ref}}
}

type harnessFolder struct {
	*simulator.Folder
	h *harness
}

// CreateVMTask gives the new VM's disks their data files (sized to the
// capacity, sparse) so they can be read and uploaded at once.
func (f *harnessFolder) CreateVMTask(ctx *simulator.Context, req *types.CreateVM_Task) soap.HasFault {
	ref := chain(ctx, f.Self, "createVMTask", nil,
		func() soap.HasFault { return f.Folder.CreateVMTask(ctx, req) },
		func(result types.AnyType) (types.AnyType, types.BaseMethodFault) {
			vmRef, ok := result.(types.ManagedObjectReference)
			if !ok {
				return result, nil
			}
			vm, ok := ctx.Map.Get(vmRef).(*simulator.VirtualMachine)
			if !ok {
				return result, nil
			}
			var fault types.BaseMethodFault
			ctx.Map.WithLock(ctx, vm, func() {
				changed, err := f.h.prepareVM(vm)
				if err != nil {
					fault = methodFault(err.Error(), &types.FileFault{})
				} else if changed {
					publishDevices(ctx, vm)
				}
			})
			return result, fault
		}, nil)
	return &methods.CreateVM_TaskBody{Res: &types.CreateVM_TaskResponse{Returnval: ref}}
}
