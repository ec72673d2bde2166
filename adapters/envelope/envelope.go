// Package envelope encodes the fixed binary header that starts every message
// body mqbench sends. The header lets any consumer, on any broker, tell which
// run, producer and sequence a message belongs to and when it was meant to
// be sent and actually sent, without trusting broker metadata.
//
// Layout (big endian, Size bytes):
//
//	0  magic      [4]byte "MQB1"
//	4  run id     uint64
//	12 producer   uint32
//	16 sequence   uint64  dense per producer, from 0
//	24 sent       int64   actual send time, Unix ns
//	32 intended   int64   intended send time (open-loop schedule), Unix ns
//
// The rest of the body is padding up to the configured message size.
package envelope

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Size is the length of the header in bytes. Bodies are never shorter.
const Size = 40

var magic = [4]byte{'M', 'Q', 'B', '1'}

// ErrNotEnvelope means a body does not start with an mqbench header.
var ErrNotEnvelope = errors.New("not an mqbench envelope")

// Header is the decoded envelope.
type Header struct {
	RunID    uint64
	Producer uint32
	Seq      uint64
	SentNs   int64
	IntendNs int64
}

// Put writes h at the start of body, which must be at least Size bytes
// (Put panics otherwise, as a programming error). The padding after the
// header is left as the caller made it.
func Put(body []byte, h Header) {
	_ = body[Size-1]
	copy(body[0:4], magic[:])
	binary.BigEndian.PutUint64(body[4:], h.RunID)
	binary.BigEndian.PutUint32(body[12:], h.Producer)
	binary.BigEndian.PutUint64(body[16:], h.Seq)
	binary.BigEndian.PutUint64(body[24:], uint64(h.SentNs))
	binary.BigEndian.PutUint64(body[32:], uint64(h.IntendNs))
}

// SetSent overwrites only the actual send time of an encoded body, so a
// producer can stamp it just before handing the body to the driver.
func SetSent(body []byte, ns int64) {
	binary.BigEndian.PutUint64(body[24:], uint64(ns))
}

// Parse decodes the header at the start of body. It never panics: short or
// foreign bodies return an error wrapping ErrNotEnvelope.
func Parse(body []byte) (Header, error) {
	if len(body) < Size {
		return Header{}, fmt.Errorf("%w: %d bytes, need %d", ErrNotEnvelope, len(body), Size)
	}
	if [4]byte(body[0:4]) != magic {
		return Header{}, fmt.Errorf("%w: bad magic %q", ErrNotEnvelope, body[0:4])
	}
	return Header{
		RunID:    binary.BigEndian.Uint64(body[4:]),
		Producer: binary.BigEndian.Uint32(body[12:]),
		Seq:      binary.BigEndian.Uint64(body[16:]),
		SentNs:   int64(binary.BigEndian.Uint64(body[24:])),
		IntendNs: int64(binary.BigEndian.Uint64(body[32:])),
	}, nil
}

// New returns a body of size bytes (at least Size) holding h, padded with a
// repeating non-zero pattern so compressing brokers cannot shrink it to
// nothing.
func New(size int, h Header) []byte {
	if size < Size {
		size = Size
	}
	b := make([]byte, size)
	for i := Size; i < size; i++ {
		b[i] = byte('a' + i%26)
	}
	Put(b, h)
	return b
}
