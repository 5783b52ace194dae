package persistence

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// A chunk's columns go to Postgres already in their binary wire format. Through pgx's generic array codec every
// element of every array was boxed into an interface and encoded through a plan lookup: at full load that was a
// tenth of the node's CPU and most of its allocations, for values whose encoding is a few fixed-width fields.

// Postgres type OIDs of the chunk's parameters (pg_type.dat).
const (
	oidBytea            = 17
	oidInt8             = 20
	oidInt4             = 23
	oidText             = 25
	oidFloat4           = 700
	oidTimestamptz      = 1184
	oidUUID             = 2950
	oidByteaArray       = 1001
	oidInt4Array        = 1007
	oidTextArray        = 1009
	oidInt8Array        = 1016
	oidFloat4Array      = 1021
	oidTimestampTZArray = 1185
)

// engChunkOIDs are the types of a chunk's columns, in sqlCopyChunks' order.
var engChunkOIDs = [engChunkColumns]uint32{oidUUID, oidInt8, oidInt8, oidInt8Array, oidTimestampTZArray,
	oidTextArray, oidFloat4Array, oidTextArray, oidTextArray, oidTextArray, oidTextArray, oidFloat4Array,
	oidTextArray, oidInt4Array, oidTextArray, oidByteaArray}

// microsecondsToY2K is Postgres's timestamp epoch (2000-01-01 UTC) in microseconds after the Unix epoch.
const microsecondsToY2K = 946684800 * 1_000_000

// wireArray appends a one-dimensional array's header; its n elements follow, each as wireElem or wireNull.
func wireArray(b []byte, elemOID uint32, n int, hasNull bool) []byte {
	flags := uint32(0)
	if hasNull {
		flags = 1
	}
	b = binary.BigEndian.AppendUint32(b, 1) // dimensions
	b = binary.BigEndian.AppendUint32(b, flags)
	b = binary.BigEndian.AppendUint32(b, elemOID)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	return binary.BigEndian.AppendUint32(b, 1) // lower bound
}

func wireNull(b []byte) []byte { return binary.BigEndian.AppendUint32(b, math.MaxUint32) } // length -1

func wireInt8(b []byte, v int64) []byte {
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

func wireInt4(b []byte, v int32) []byte {
	b = binary.BigEndian.AppendUint32(b, 4)
	return binary.BigEndian.AppendUint32(b, uint32(v))
}

func wireFloat4(b []byte, v float64) []byte {
	b = binary.BigEndian.AppendUint32(b, 4)
	return binary.BigEndian.AppendUint32(b, math.Float32bits(float32(v)))
}

func wireText(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func wireTime(b []byte, t time.Time) []byte {
	return wireInt8(b, t.Unix()*1_000_000+int64(t.Nanosecond())/1000-microsecondsToY2K)
}

// engCopyHeader starts a binary COPY stream: its signature, flags and header extension length.
var engCopyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// engCopyChunks appends to buf the binary COPY stream (sqlCopyChunks) of the chunks of the decisions
// ds[order[...]] cut at cuts (the end of each chunk in order): one row per chunk, each column as its length and
// its value in binary wire format.
func engCopyChunks(buf []byte, ds []Decision, order []int, cuts []int, sessionID func(*Decision) [16]byte) []byte {
	size := len(engCopyHeader) + 2 + len(cuts)*(2+engChunkColumns*(4+20)+16)
	for _, i := range order {
		d := &ds[i]
		// Per decision: the fixed-width fields with their lengths, the texts, the vector.
		size += 13*4 + 8 + 8 + 4 + 4 + 4 + 4 + len(d.Action) + len(d.Mode) + len(d.Field) + len(d.Modality) +
			len(d.Status) + len(d.VectorKey) + 4*len(d.Vector) + 8
		for _, r := range d.Reasons {
			size += len(r) + 1
		}
	}
	buf = slices.Grow(buf, size)
	buf = append(buf, engCopyHeader...)
	// col starts a column's value: its length, set by end once the value is appended.
	col := func() int { buf = append(buf, 0, 0, 0, 0); return len(buf) }
	end := func(at int) { binary.BigEndian.PutUint32(buf[at-4:], uint32(len(buf)-at)) }
	start := 0
	for _, cut := range cuts {
		run := order[start:cut]
		n := len(run)
		first, last := &ds[run[0]], &ds[run[n-1]]
		buf = binary.BigEndian.AppendUint16(buf, engChunkColumns)

		at := col()
		id := sessionID(first)
		buf = append(buf, id[:]...)
		end(at)
		at = col()
		buf = binary.BigEndian.AppendUint64(buf, uint64(first.Seq))
		end(at)
		at = col()
		buf = binary.BigEndian.AppendUint64(buf, uint64(last.Seq))
		end(at)

		each := func(elemOID uint32, hasNull bool, put func(b []byte, d *Decision) []byte) {
			at := col()
			buf = wireArray(buf, elemOID, n, hasNull)
			for _, i := range run {
				buf = put(buf, &ds[i])
			}
			end(at)
		}
		nullRisk, nullVec := false, false
		for _, i := range run {
			nullRisk = nullRisk || ds[i].SampleRisk == nil
			nullVec = nullVec || ds[i].VectorKey == ""
		}
		each(oidInt8, false, func(b []byte, d *Decision) []byte { return wireInt8(b, d.EventSeq) })
		each(oidTimestamptz, false, func(b []byte, d *Decision) []byte { return wireTime(b, d.At) })
		each(oidText, false, func(b []byte, d *Decision) []byte { return wireText(b, d.Action) })
		each(oidFloat4, false, func(b []byte, d *Decision) []byte { return wireFloat4(b, d.Risk) })
		each(oidText, false, func(b []byte, d *Decision) []byte { return wireText(b, d.Mode) })
		each(oidText, false, func(b []byte, d *Decision) []byte { return wireText(b, d.Field) })
		each(oidText, false, func(b []byte, d *Decision) []byte { return wireText(b, d.Modality) })
		each(oidText, false, func(b []byte, d *Decision) []byte { return wireText(b, d.Status) })
		each(oidFloat4, nullRisk, func(b []byte, d *Decision) []byte {
			if d.SampleRisk == nil {
				return wireNull(b)
			}
			return wireFloat4(b, *d.SampleRisk)
		})
		each(oidText, false, func(b []byte, d *Decision) []byte {
			at := len(b)
			b = binary.BigEndian.AppendUint32(b, 0)
			for j, r := range d.Reasons {
				if j > 0 {
					b = append(b, ReasonSeparator...)
				}
				b = append(b, r...)
			}
			binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
			return b
		})
		each(oidInt4, false, func(b []byte, d *Decision) []byte { return wireInt4(b, int32(d.LatencyUS)) })
		each(oidText, nullVec, func(b []byte, d *Decision) []byte {
			if d.VectorKey == "" {
				return wireNull(b)
			}
			return wireText(b, d.VectorKey)
		})
		each(oidBytea, nullVec, func(b []byte, d *Decision) []byte {
			if d.VectorKey == "" {
				return wireNull(b)
			}
			b = binary.BigEndian.AppendUint32(b, uint32(4*len(d.Vector)))
			at := len(b)
			b = append(b, make([]byte, 4*len(d.Vector))...)
			engPutVector(b[at:], d.Vector) // as EncodeVector stores it
			return b
		})
		start = cut
	}
	return binary.BigEndian.AppendUint16(buf, 0xffff) // the trailer: a field count of -1
}

// engCopyBufs lends the COPY streams' buffers from flush to flush.
var engCopyBufs = sync.Pool{New: func() any { return new([]byte) }}

// engKeepCopyBuf is the largest COPY buffer kept for the next flush.
const engKeepCopyBuf = 16 << 20

// engExecChunks writes a COPY stream of chunks (engCopyChunks) in tx.
func engExecChunks(ctx context.Context, tx pgx.Tx, stream []byte) error {
	_, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(stream), sqlCopyChunks)
	return err
}
