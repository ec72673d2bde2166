package kafka

import "testing"

func TestAckTracker(t *testing.T) {
	type step struct {
		deliver bool // deliver (true) or ack (false)
		part    int
		offset  int64
		epoch   uint64 // for acks
		commit  int64  // expected commit for acks; -1 = none
	}
	d := func(p int, o int64) step { return step{deliver: true, part: p, offset: o} }
	a := func(p int, o int64, e uint64, commit int64) step {
		return step{part: p, offset: o, epoch: e, commit: commit}
	}
	tests := []struct {
		name        string
		steps       []step
		outstanding int
	}{
		{"in order", []step{d(0, 5), d(0, 6), a(0, 5, 0, 6), a(0, 6, 0, 7)}, 0},
		{"out of order holds back", []step{d(0, 5), d(0, 6), d(0, 7), a(0, 7, 0, -1), a(0, 6, 0, -1), a(0, 5, 0, 8)}, 0},
		{"gap stays", []step{d(0, 1), d(0, 2), d(0, 3), a(0, 1, 0, 2), a(0, 3, 0, -1)}, 2},
		{"partitions apart", []step{d(0, 1), d(1, 1), a(1, 1, 0, 2), a(0, 1, 0, 2)}, 0},
		{"double ack ignored", []step{d(0, 1), a(0, 1, 0, 2), a(0, 1, 0, -1)}, 0},
		{"unknown offset ignored", []step{d(0, 1), a(0, 9, 0, -1)}, 1},
		{"unknown partition ignored", []step{a(3, 1, 0, -1)}, 0},
		{"sparse offsets (compacted or transactional)", []step{d(0, 10), d(0, 20), a(0, 10, 0, 11), a(0, 20, 0, 21)}, 0},
		{"rewind starts a new epoch", []step{d(0, 5), d(0, 6), d(0, 5), a(0, 5, 0, -1), a(0, 5, 1, 6)}, 0},
		{"rewind drops old outstanding", []step{d(0, 5), d(0, 6), d(0, 3), a(0, 6, 0, -1)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newAckTracker()
			for i, s := range tt.steps {
				if s.deliver {
					tr.delivered(s.part, s.offset)
					continue
				}
				got, ok := tr.ack(s.part, s.offset, s.epoch)
				if !ok {
					got = -1
				}
				if got != s.commit {
					t.Fatalf("step %d: ack(%d, %d, epoch %d) commit = %d, want %d", i, s.part, s.offset, s.epoch, got, s.commit)
				}
			}
			if got := tr.outstanding(); got != tt.outstanding {
				t.Errorf("outstanding = %d, want %d", got, tt.outstanding)
			}
		})
	}
}

func TestAckTrackerEpochs(t *testing.T) {
	tr := newAckTracker()
	if e := tr.delivered(0, 1); e != 0 {
		t.Fatalf("first epoch = %d", e)
	}
	if e := tr.delivered(0, 2); e != 0 {
		t.Fatalf("second delivery epoch = %d", e)
	}
	if e := tr.delivered(0, 2); e != 1 {
		t.Fatalf("redelivery epoch = %d, want 1", e)
	}
	if e := tr.delivered(1, 0); e != 0 {
		t.Fatalf("other partition epoch = %d, want 0", e)
	}
}
