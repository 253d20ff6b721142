package main

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// qemu-img (Debian qemu-utils) writes the stream-optimized VMDKs this
// decoder must read as ESXi does.
func convertWithQemu(t *testing.T, raw []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img is not installed")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.raw"), filepath.Join(dir, "out.vmdk")
	if err := os.WriteFile(in, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", in, out).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeInto(t *testing.T, stream []byte, capacity int64) ([]byte, streamStats, error) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "flat")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(capacity); err != nil {
		t.Fatal(err)
	}
	st, derr := decodeStreamOptimized(bytes.NewReader(stream), f, capacity, func(int64, int64) {})
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return got, st, derr
}

func TestDecodeQemuStreamOptimized(t *testing.T) {
	const capacity = 3*1024*1024 + 5*1024 // not a whole number of grains
	raw := make([]byte, capacity)
	for _, off := range []int{0, 100_000, 1 << 20, capacity - 3000} {
		_, _ = rand.Read(raw[off : off+2000])
	}
	stream := convertWithQemu(t, raw)
	got, st, err := decodeInto(t, stream, capacity)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, raw) {
		t.Fatal("the decoded disk differs from the original")
	}
	if st.capacity != capacity || st.grains < 4 || st.grains > 6 || st.streamBytes <= 0 || st.streamBytes > int64(len(stream)) {
		t.Fatalf("unexpected stats %+v (stream %d bytes)", st, len(stream))
	}
}

func TestDecodeRefusesBadStreams(t *testing.T) {
	raw := make([]byte, 1<<20)
	_, _ = rand.Read(raw[:4096])
	stream := convertWithQemu(t, raw)

	if _, _, err := decodeInto(t, stream, 512*1024); err == nil || !strings.Contains(err.Error(), "exceeds the disk") {
		t.Fatalf("a stream larger than the disk: %v", err)
	}
	// Cut inside the first grain, which follows the overhead.
	overhead := int(binary.LittleEndian.Uint64(stream[64:]))
	if _, _, err := decodeInto(t, stream[:overhead*512+1024], 1<<20); err == nil || !strings.Contains(err.Error(), "reading the grain") {
		t.Fatalf("a cut stream: %v", err)
	}
	if _, _, err := decodeInto(t, raw, 1<<20); err == nil || !strings.Contains(err.Error(), "not a sparse VMDK") {
		t.Fatalf("raw bytes: %v", err)
	}
}

// qemu-img ends its stream after the last grain, without markers; a grain at
// the disk's very end leaves no padding after it.
func TestDecodeQemuStreamEndingWithTheLastGrain(t *testing.T) {
	const capacity = 4 << 20
	raw := make([]byte, capacity)
	_, _ = rand.Read(raw[:4096])
	_, _ = rand.Read(raw[capacity-65536:])
	stream := convertWithQemu(t, raw)
	got, st, err := decodeInto(t, stream, capacity)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, raw) || st.streamBytes != int64(len(stream)) {
		t.Fatalf("decoded %d of %d stream bytes; content equal: %v", st.streamBytes, len(stream), bytes.Equal(got, raw))
	}
}

// grainRecords returns the offset in the stream of each grain record, by
// LBA, walking the markers from the end of the overhead.
func grainRecords(t *testing.T, stream []byte) map[uint64]int {
	t.Helper()
	le := binary.LittleEndian
	records := map[uint64]int{}
	for at := int(le.Uint64(stream[64:])) * sectorSize; at+sectorSize <= len(stream); {
		value, size := le.Uint64(stream[at:]), le.Uint32(stream[at+8:])
		if size != 0 {
			records[value] = at
			at += (grainHeaderBytes + int(size) + sectorSize - 1) / sectorSize * sectorSize
			continue
		}
		if le.Uint32(stream[at+12:]) == markerEOS {
			break
		}
		at += (1 + int(value)) * sectorSize
	}
	return records
}

// A corrupt grain fails the upload, as zlib's own inflate refuses it: a
// wrong checksum, or a stream cut short, even when what is there inflates
// to a whole grain (the decoder then reads on to the stream's end) or to
// the short grain that ends the disk.
func TestDecodeRefusesACorruptGrain(t *testing.T) {
	const capacity = 1<<20 + 5*1024 // its last grain is 5 KiB
	raw := make([]byte, capacity)
	_, _ = rand.Read(raw[:4096])
	_, _ = rand.Read(raw[capacity-3000:])
	pristine := convertWithQemu(t, raw)
	if got, _, err := decodeInto(t, pristine, capacity); err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("the stream as qemu-img wrote it: %v (content equal: %v)", err, bytes.Equal(got, raw))
	}
	records := grainRecords(t, pristine)
	last := uint64(capacity/65536) * 128 // the sector of the last, short grain
	for _, lba := range []uint64{0, last} {
		at, ok := records[lba]
		if !ok {
			t.Fatalf("no grain record at sector %d among %v", lba, records)
		}
		size := int(binary.LittleEndian.Uint32(pristine[at+8:]))
		wrongSum := bytes.Clone(pristine)
		wrongSum[at+grainHeaderBytes+size-1] ^= 0x01 // the last byte of its Adler-32
		cutShort := bytes.Clone(pristine)
		binary.LittleEndian.PutUint32(cutShort[at+8:], uint32(size-4)) // its Adler-32 left out
		for name, stream := range map[string][]byte{"a wrong checksum": wrongSum, "its checksum cut off": cutShort} {
			want := fmt.Sprintf("inflating the grain at sector %d", lba)
			if _, _, err := decodeInto(t, stream, capacity); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("the grain at sector %d with %s: %v", lba, name, err)
			}
		}
	}
}
