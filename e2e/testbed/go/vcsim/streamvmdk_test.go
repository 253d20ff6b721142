package main

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
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

// A grain whose zlib checksum is wrong is corrupt (zlib's inflate refuses it), even when
// it inflates to a whole grain (the decoder then reads on to its end).
func TestDecodeRefusesAGrainWithAWrongChecksum(t *testing.T) {
	raw := make([]byte, 1<<20)
	_, _ = rand.Read(raw[:4096])
	stream := convertWithQemu(t, raw)
	overhead := int(binary.LittleEndian.Uint64(stream[64:]))
	grain := overhead * 512
	size := int(binary.LittleEndian.Uint32(stream[grain+8:]))
	if binary.LittleEndian.Uint64(stream[grain:]) != 0 || size == 0 {
		t.Fatalf("the first record is not the first grain: LBA %d, size %d", binary.LittleEndian.Uint64(stream[grain:]), size)
	}
	if _, _, err := decodeInto(t, stream, 1<<20); err != nil {
		t.Fatalf("the stream as qemu-img wrote it: %v", err)
	}
	stream[grain+12+size-1] ^= 0x01 // the last byte of its Adler-32
	if _, _, err := decodeInto(t, stream, 1<<20); err == nil || !strings.Contains(err.Error(), "inflating the grain at sector 0") {
		t.Fatalf("a grain with a wrong checksum: %v", err)
	}
}
