package hermes

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// The write-ahead log makes a Store's writes durable cheaply: each group
// commit appends one record to the log and fdatasyncs it once, and the
// records reach the bbolt file later, many groups at a time, in a
// checkpoint. A promise then costs about a kilobyte of sequential log
// instead of three rewritten B-tree pages and bbolt's two fsyncs.
//
// A record is
//
//	length uint32   bytes after the checksum
//	crc    uint32   CRC-32C of those bytes
//	seq    uint64   group number, increasing over the store's life
//	puts   repeated { bucket uint8, keyLen uint16, key, valueLen uint32, value }
//
// all big-endian. Records are appended one at a time, each after the
// previous one's fdatasync, so only the last record of a log can be torn: a
// log ends at its first record that does not decode.

// put is one key's new value in one of the store's buckets.
type put struct {
	bucket     []byte // one of storeBuckets
	key, value []byte
}

// storeBuckets are the buckets a log record can name, by index.
var storeBuckets = [][]byte{bucketHubConsumers, bucketHubProviders, bucketHubAgreements, bucketProvR, bucketProvSessions, bucketProvEarnings, bucketProvSettlements}

const (
	walHeaderSize = 4 + 4 + 8
	walMaxRecord  = 1 << 30 // a sanity bound on length; real groups are far smaller
)

// errWALEnd means the log has no further complete record.
var errWALEnd = errors.New("end of write-ahead log")

var walCRC = crc32.MakeTable(crc32.Castagnoli)

func bucketIndex(name []byte) (int, bool) {
	// Writes name the buckets by the package's own slices: find those by
	// address before comparing bytes (three lookups per put).
	for i, b := range storeBuckets {
		if len(name) == len(b) && len(b) > 0 && &name[0] == &b[0] {
			return i, true
		}
	}
	for i, b := range storeBuckets {
		if bytes.Equal(b, name) {
			return i, true
		}
	}
	return 0, false
}

// appendWALRecord appends the record of group seq to b.
func appendWALRecord(b []byte, seq uint64, puts []put) ([]byte, error) {
	start := len(b)
	b = append(b, make([]byte, walHeaderSize)...)
	binary.BigEndian.PutUint64(b[start+8:], seq)
	for _, p := range puts {
		i, ok := bucketIndex(p.bucket)
		switch {
		case !ok:
			return nil, fmt.Errorf("hermes store: write to unknown bucket %q", p.bucket)
		case len(p.key) > math.MaxUint16:
			return nil, fmt.Errorf("hermes store: key of %d bytes", len(p.key))
		case len(p.value) > walMaxRecord:
			return nil, fmt.Errorf("hermes store: value of %d bytes", len(p.value))
		}
		b = append(b, byte(i))
		b = binary.BigEndian.AppendUint16(b, uint16(len(p.key)))
		b = append(b, p.key...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(p.value)))
		b = append(b, p.value...)
	}
	n := len(b) - start - 8
	if n > walMaxRecord {
		return nil, fmt.Errorf("hermes store: log record of %d bytes", n)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(n))
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(b[start+8:], walCRC))
	return b, nil
}

// decodeWALRecord decodes the record at the start of b and returns its
// length. The puts' keys and values alias b. It returns errWALEnd when b
// does not start with a complete, intact record.
func decodeWALRecord(b []byte) (seq uint64, puts []put, n int, err error) {
	if len(b) < walHeaderSize {
		return 0, nil, 0, errWALEnd
	}
	size := binary.BigEndian.Uint32(b)
	if size < 8 || size > walMaxRecord || uint64(len(b)-8) < uint64(size) {
		return 0, nil, 0, errWALEnd
	}
	body := b[8 : 8+size]
	if crc32.Checksum(body, walCRC) != binary.BigEndian.Uint32(b[4:]) {
		return 0, nil, 0, errWALEnd
	}
	seq = binary.BigEndian.Uint64(body)
	for r := body[8:]; len(r) > 0; {
		if len(r) < 3 || int(r[0]) >= len(storeBuckets) {
			return 0, nil, 0, fmt.Errorf("%w: log record %d has a bad put", ErrMalformed, seq)
		}
		p := put{bucket: storeBuckets[r[0]]}
		kl := int(binary.BigEndian.Uint16(r[1:]))
		r = r[3:]
		if len(r) < kl+4 {
			return 0, nil, 0, fmt.Errorf("%w: log record %d has a truncated put", ErrMalformed, seq)
		}
		p.key, r = r[:kl:kl], r[kl:]
		vl := binary.BigEndian.Uint32(r)
		r = r[4:]
		if uint64(len(r)) < uint64(vl) {
			return 0, nil, 0, fmt.Errorf("%w: log record %d has a truncated put", ErrMalformed, seq)
		}
		p.value, r = r[:vl:vl], r[vl:]
		puts = append(puts, p)
	}
	return seq, puts, 8 + int(size), nil
}

// walGroup is one decoded log record.
type walGroup struct {
	seq  uint64
	puts []put
}

// decodeWAL decodes the records of a log up to its end (its first record
// that is torn or fails its checksum). A record with an intact checksum
// that does not decode, or sequence numbers that do not increase, mean the
// log is corrupt, not torn.
func decodeWAL(b []byte) ([]walGroup, error) {
	var out []walGroup
	for len(b) > 0 {
		seq, puts, n, err := decodeWALRecord(b)
		if errors.Is(err, errWALEnd) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(out) > 0 && seq <= out[len(out)-1].seq {
			return nil, fmt.Errorf("%w: log record %d follows record %d", ErrMalformed, seq, out[len(out)-1].seq)
		}
		out = append(out, walGroup{seq: seq, puts: puts})
		b = b[n:]
	}
	return out, nil
}
