package main

// A decoder of stream-optimized VMDKs (VMware's "Virtual Disk Format 5.0",
// the format OVF packages carry and an NFC import lease accepts): a sparse
// extent header, the embedded descriptor, then a sequence of sector-aligned
// records up to an end-of-stream marker. Each record is either a grain
// (uint64 LBA, uint32 compressed size, then the deflated grain data) or a
// metadata marker (uint64 sector count, uint32 0, uint32 type, padded to a
// sector) followed by that many sectors of metadata: grain tables, the
// grain directory, the footer. The grain tables only repeat where the
// grains are, so the decoder reads the grains and skips the metadata; grains
// the stream leaves out are holes (zeros), as on ESXi. (qemu-img writes its
// grain tables into the header's overhead instead, and no markers at all:
// its stream simply ends after the last grain; both layouts decode.)

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

const (
	sectorSize          = 512
	sparseMagic         = 0x564d444b // "KDMV" little-endian
	flagCompressed      = 1 << 16
	flagMarkers         = 1 << 17
	compressionDeflate  = 1
	markerEOS           = 0
	markerGrainTable    = 1
	markerGrainDir      = 2
	markerFooter        = 3
	gdAtEnd             = ^uint64(0) // header gdOffset of a stream whose grain directory follows the grains
	maxGrainSectors     = 1 << 14    // 8 MiB grains; VMware writes 128 sectors (64 KiB)
	maxMetadataSectors  = 1 << 22    // a grain directory of a 64 TiB disk is far smaller
	maxDescriptorBytes  = 1 << 20
	grainHeaderBytes    = 12
	streamReadAheadSize = 1 << 20
)

// streamStats tells what a decoded stream held.
type streamStats struct {
	capacity     int64 // bytes, from the header
	grainBytes   int64 // bytes of the grains written (uncompressed, clipped to the capacity)
	grains       int64
	streamBytes  int64 // bytes read from the stream
	grainSectors int64
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// decodeStreamOptimized reads a stream-optimized VMDK from r and writes each
// grain at its offset into dst, which must hold the disk's data at capacity
// bytes (the caller sizes it). Grains whose data is all zeros are not
// written, so a sparse dst keeps its holes. onGrain is called with the byte
// range of every grain written (before zero skipping), for change tracking.
// A stream whose capacity exceeds the disk's, a grain outside the capacity,
// a corrupt grain or a stream cut off before its end-of-stream marker is an
// error.
func decodeStreamOptimized(r io.Reader, dst *os.File, capacity int64, onGrain func(offset, length int64)) (st streamStats, err error) {
	counter := &countingReader{r: r}
	in := bufio.NewReaderSize(counter, streamReadAheadSize)
	defer func() { st.streamBytes = counter.n - int64(in.Buffered()) }()

	header := make([]byte, sectorSize)
	if _, err := io.ReadFull(in, header); err != nil {
		return st, fmt.Errorf("reading the sparse extent header: %w", err)
	}
	le := binary.LittleEndian
	magic := le.Uint32(header[0:])
	version := le.Uint32(header[4:])
	flags := le.Uint32(header[8:])
	capacitySectors := le.Uint64(header[12:])
	grainSectors := le.Uint64(header[20:])
	descriptorOffset := le.Uint64(header[28:])
	descriptorSectors := le.Uint64(header[36:])
	gdOffset := le.Uint64(header[56:])
	overheadSectors := le.Uint64(header[64:])
	compression := le.Uint16(header[77:])
	switch {
	case magic != sparseMagic:
		return st, fmt.Errorf("not a sparse VMDK (magic %#x, want %#x \"KDMV\")", magic, sparseMagic)
	case version != 3:
		return st, fmt.Errorf("sparse VMDK version %d is not the stream-optimized version 3", version)
	case flags&flagCompressed == 0 || flags&flagMarkers == 0:
		return st, fmt.Errorf("the VMDK is not stream-optimized: flags %#x lack compressed grains and markers", flags)
	case compression != compressionDeflate:
		return st, fmt.Errorf("compression algorithm %d is not deflate (1)", compression)
	case grainSectors < 8 || grainSectors > maxGrainSectors || grainSectors&(grainSectors-1) != 0:
		return st, fmt.Errorf("grain size of %d sectors is not a power of two from 8 to %d", grainSectors, maxGrainSectors)
	case capacitySectors > uint64(capacity/sectorSize):
		return st, fmt.Errorf("the stream's capacity %d bytes exceeds the disk's %d bytes", capacitySectors*sectorSize, capacity)
	case overheadSectors < 1 || overheadSectors > maxMetadataSectors:
		return st, fmt.Errorf("implausible overhead of %d sectors", overheadSectors)
	case descriptorOffset != 0 && (descriptorOffset < 1 || descriptorOffset+descriptorSectors > overheadSectors || descriptorSectors*sectorSize > maxDescriptorBytes):
		return st, fmt.Errorf("the descriptor (sectors %d+%d) lies outside the %d sectors of overhead", descriptorOffset, descriptorSectors, overheadSectors)
	}
	st.capacity = int64(capacitySectors) * sectorSize
	st.grainSectors = int64(grainSectors)
	grainBytes := int64(grainSectors) * sectorSize

	// The descriptor and any padding up to the first record: not needed to
	// place the grains.
	if _, err := io.CopyN(io.Discard, in, int64(overheadSectors-1)*sectorSize); err != nil {
		return st, fmt.Errorf("reading the %d sectors of overhead: %w", overheadSectors, err)
	}

	sector := make([]byte, sectorSize)
	compressed := make([]byte, 0, grainBytes+sectorSize)
	grain := make([]byte, grainBytes)
	zero := make([]byte, grainBytes)
	var inflater grainInflater
	for {
		if _, err := io.ReadFull(in, sector); err != nil {
			// qemu-img keeps the grain directory in the overhead (gdOffset
			// set) and ends the stream after the last grain, and ESXi takes
			// that; a stream with its directory at the end (gdOffset
			// GD_AT_END, as VMware writes) must reach its end-of-stream marker.
			if errors.Is(err, io.EOF) && gdOffset != gdAtEnd {
				return st, nil
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return st, errors.New("the stream ended without an end-of-stream marker")
			}
			return st, err
		}
		value := le.Uint64(sector[0:])
		size := le.Uint32(sector[8:])
		if size == 0 {
			kind := le.Uint32(sector[12:])
			switch kind {
			case markerEOS:
				return st, nil
			case markerGrainTable, markerGrainDir, markerFooter:
				if value > maxMetadataSectors {
					return st, fmt.Errorf("marker of type %d announces %d sectors of metadata", kind, value)
				}
				if _, err := io.CopyN(io.Discard, in, int64(value)*sectorSize); err != nil {
					return st, fmt.Errorf("reading %d sectors of metadata (marker type %d): %w", value, kind, err)
				}
				continue
			default:
				return st, fmt.Errorf("unknown marker type %d", kind)
			}
		}

		// A grain: LBA, compressed size, data, padded to whole sectors.
		lba := value
		if size > uint32(grainBytes)+sectorSize*4 {
			return st, fmt.Errorf("grain at sector %d claims %d compressed bytes for a %d-byte grain", lba, size, grainBytes)
		}
		if lba%grainSectors != 0 || lba >= capacitySectors {
			return st, fmt.Errorf("grain at sector %d is not grain-aligned inside the %d sectors of capacity", lba, capacitySectors)
		}
		record := (int64(size) + grainHeaderBytes + sectorSize - 1) / sectorSize * sectorSize
		need := int(record) - grainHeaderBytes
		if cap(compressed) < need {
			compressed = make([]byte, need)
		}
		compressed = compressed[:need]
		copy(compressed, sector[grainHeaderBytes:])
		if _, err := io.ReadFull(in, compressed[sectorSize-grainHeaderBytes:]); err != nil {
			return st, fmt.Errorf("reading the grain at sector %d: %w", lba, err)
		}
		n, err := inflater.inflate(compressed[:size], grain)
		if err != nil {
			return st, fmt.Errorf("inflating the grain at sector %d: %w", lba, err)
		}
		offset := int64(lba) * sectorSize
		if n < len(grain) && int64(n) < st.capacity-offset {
			return st, fmt.Errorf("the grain at sector %d inflates to %d bytes, short of a whole grain (%d) and of the disk's end", lba, n, len(grain))
		}
		n = int(min(int64(n), st.capacity-offset))
		if n > 0 && !bytes.Equal(grain[:n], zero[:n]) {
			if _, err := dst.WriteAt(grain[:n], offset); err != nil {
				return st, fmt.Errorf("writing the grain at sector %d: %w", lba, err)
			}
		}
		st.grains++
		st.grainBytes += int64(n)
		onGrain(offset, int64(n))
	}
}

// grainInflater inflates a stream's grains one after another with the same
// decompressors: a new zlib reader per grain allocated its window and tables
// for every 64 KiB grain, which cost an import more CPU than the inflating.
type grainInflater struct {
	src  bytes.Reader
	zlib io.ReadCloser // RFC 1950, made on the first zlib grain
	raw  io.ReadCloser // RFC 1951, made on the first raw grain
}

// inflate decompresses one grain into out (its whole length at most). The
// format says "deflate"; VMware and qemu-img write a zlib stream (RFC 1950)
// around it, which its header tells apart from raw deflate (RFC 1951), also
// read. The stream must end where its data ends (raw deflate: its final
// block; zlib: its Adler-32 too, checked as zlib's own inflate checks it).
func (g *grainInflater) inflate(data, out []byte) (int, error) {
	g.src.Reset(data)
	var r io.Reader
	if len(data) >= 2 && data[0]&0x0f == 8 && (uint16(data[0])<<8|uint16(data[1]))%31 == 0 {
		if g.zlib == nil {
			zr, err := zlib.NewReader(&g.src)
			if err != nil {
				return 0, err
			}
			g.zlib = zr
		} else if err := g.zlib.(zlib.Resetter).Reset(&g.src, nil); err != nil {
			return 0, err
		}
		r = g.zlib
	} else {
		if g.raw == nil {
			g.raw = flate.NewReader(&g.src)
		} else if err := g.raw.(flate.Resetter).Reset(&g.src, nil); err != nil {
			return 0, err
		}
		r = g.raw
	}
	// Only io.EOF is the stream's end (zlib's comes after its checksum
	// matched); a stream cut short fails with io.ErrUnexpectedEOF.
	n := 0
	for n < len(out) {
		m, err := r.Read(out[n:])
		n += m
		if errors.Is(err, io.EOF) {
			return n, nil // a short grain: the caller checks that it ends the disk
		}
		if err != nil {
			return n, err
		}
	}
	// The grain filled the buffer: the stream must end here, and reading
	// its end checks its checksum; anything more is corrupt.
	var one [1]byte
	m, err := r.Read(one[:])
	if m > 0 {
		return n, fmt.Errorf("the grain inflates to more than %d bytes", len(out))
	}
	if !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("the grain's stream does not end after its %d bytes: %w", len(out), err)
	}
	return n, nil
}
