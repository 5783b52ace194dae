package persistence

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// A chunk's parameters go to Postgres already in its binary wire format. Through pgx's generic array codec every
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

// engChunkOIDs are the types of one chunk's parameters, in sqlInsertChunks' order.
var engChunkOIDs = [engChunkColumns]uint32{oidUUID, oidInt8, oidInt8, oidInt8Array, oidTimestampTZArray,
	oidTextArray, oidFloat4Array, oidTextArray, oidTextArray, oidTextArray, oidTextArray, oidFloat4Array,
	oidTextArray, oidInt4Array, oidTextArray, oidByteaArray}

// engRawChunk is one decision_chunks row as sqlInsertChunks takes it, each parameter in binary format.
type engRawChunk [engChunkColumns][]byte

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

// engEncodeChunks encodes the chunks of the decisions ds[order[...]] cut at cuts (the end of each chunk in order),
// all into one buffer.
func engEncodeChunks(ds []Decision, order []int, cuts []int, sessionID func(*Decision) [16]byte) []engRawChunk {
	size := 0
	for _, i := range order {
		d := &ds[i]
		// Per decision: the fixed-width fields with their lengths, the texts, the vector.
		size += 13*4 + 8 + 8 + 4 + 4 + 4 + 4 + len(d.Action) + len(d.Mode) + len(d.Field) + len(d.Modality) +
			len(d.Status) + len(d.VectorKey) + 4*len(d.Vector) + 8
		for _, r := range d.Reasons {
			size += len(r) + 1
		}
	}
	buf := make([]byte, 0, size+len(cuts)*engChunkColumns*24)
	out := make([]engRawChunk, 0, len(cuts))
	start := 0
	for _, end := range cuts {
		run := order[start:end]
		var c engRawChunk
		col := func(k int, from int) { c[k] = buf[from:len(buf):len(buf)] }
		n := len(run)
		first, last := &ds[run[0]], &ds[run[n-1]]

		at := len(buf)
		id := sessionID(first)
		buf = append(buf, id[:]...)
		col(0, at)
		at = len(buf)
		buf = binary.BigEndian.AppendUint64(buf, uint64(first.Seq))
		col(1, at)
		at = len(buf)
		buf = binary.BigEndian.AppendUint64(buf, uint64(last.Seq))
		col(2, at)

		each := func(k int, elemOID uint32, hasNull bool, put func(b []byte, d *Decision) []byte) {
			at := len(buf)
			buf = wireArray(buf, elemOID, n, hasNull)
			for _, i := range run {
				buf = put(buf, &ds[i])
			}
			col(k, at)
		}
		nullRisk, nullVec := false, false
		for _, i := range run {
			nullRisk = nullRisk || ds[i].SampleRisk == nil
			nullVec = nullVec || ds[i].VectorKey == ""
		}
		each(3, oidInt8, false, func(b []byte, d *Decision) []byte { return wireInt8(b, d.EventSeq) })
		each(4, oidTimestamptz, false, func(b []byte, d *Decision) []byte { return wireTime(b, d.At) })
		each(5, oidText, false, func(b []byte, d *Decision) []byte { return wireText(b, d.Action) })
		each(6, oidFloat4, false, func(b []byte, d *Decision) []byte { return wireFloat4(b, d.Risk) })
		each(7, oidText, false, func(b []byte, d *Decision) []byte { return wireText(b, d.Mode) })
		each(8, oidText, false, func(b []byte, d *Decision) []byte { return wireText(b, d.Field) })
		each(9, oidText, false, func(b []byte, d *Decision) []byte { return wireText(b, d.Modality) })
		each(10, oidText, false, func(b []byte, d *Decision) []byte { return wireText(b, d.Status) })
		each(11, oidFloat4, nullRisk, func(b []byte, d *Decision) []byte {
			if d.SampleRisk == nil {
				return wireNull(b)
			}
			return wireFloat4(b, *d.SampleRisk)
		})
		each(12, oidText, false, func(b []byte, d *Decision) []byte {
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
		each(13, oidInt4, false, func(b []byte, d *Decision) []byte { return wireInt4(b, int32(d.LatencyUS)) })
		each(14, oidText, nullVec, func(b []byte, d *Decision) []byte {
			if d.VectorKey == "" {
				return wireNull(b)
			}
			return wireText(b, d.VectorKey)
		})
		each(15, oidBytea, nullVec, func(b []byte, d *Decision) []byte {
			if d.VectorKey == "" {
				return wireNull(b)
			}
			b = binary.BigEndian.AppendUint32(b, uint32(4*len(d.Vector)))
			at := len(b)
			b = append(b, make([]byte, 4*len(d.Vector))...)
			engPutVector(b[at:], d.Vector) // as EncodeVector stores it
			return b
		})
		out = append(out, c)
		start = end
	}
	return out
}

// engExecChunks inserts chunks in tx: statements of the biggest size that the chunks left fill, so one per set
// bit of their count (beyond the biggest size, as many of it as fit first), each prepared once per connection.
func engExecChunks(ctx context.Context, tx pgx.Tx, chunks []engRawChunk) error {
	formats := []int16{1} // one code: every parameter is binary
	for len(chunks) > 0 {
		k := min(bits.Len(uint(len(chunks)))-1, len(sqlInsertChunks)-1)
		size := 1 << k
		sd, err := tx.Conn().Prepare(ctx, "decision_chunks_insert_"+strconv.Itoa(size), sqlInsertChunks[k])
		if err != nil {
			return fmt.Errorf("prepare chunk insert: %w", err)
		}
		if len(sd.ParamOIDs) != size*engChunkColumns {
			return fmt.Errorf("chunk insert of %d chunks takes %d parameters", size, len(sd.ParamOIDs))
		}
		for i, oid := range sd.ParamOIDs {
			if oid != engChunkOIDs[i%engChunkColumns] {
				return fmt.Errorf("chunk insert parameter %d is of type %d, encoded as %d", i+1, oid,
					engChunkOIDs[i%engChunkColumns])
			}
		}
		values := make([][]byte, 0, size*engChunkColumns)
		for i := range size {
			values = append(values, chunks[i][:]...)
		}
		if _, err := tx.Conn().PgConn().ExecPrepared(ctx, sd.Name, values, formats, nil).Close(); err != nil {
			return err
		}
		chunks = chunks[size:]
	}
	return nil
}
