package memory

// deque is a growable ring buffer. It is not safe for concurrent use; the
// destination lock guards every deque of the package.
type deque[T any] struct {
	buf  []T // len(buf) is zero or a power of two
	head int
	n    int
}

func (q *deque[T]) len() int { return q.n }

func (q *deque[T]) grow() {
	size := len(q.buf) * 2
	if size == 0 {
		size = 16
	}
	buf := make([]T, size)
	for i := 0; i < q.n; i++ {
		buf[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
	}
	q.buf, q.head = buf, 0
}

func (q *deque[T]) pushBack(v T) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = v
	q.n++
}

func (q *deque[T]) pushFront(v T) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.head = (q.head - 1) & (len(q.buf) - 1)
	q.buf[q.head] = v
	q.n++
}

// at returns a pointer to the i-th element from the front; 0 <= i < len.
func (q *deque[T]) at(i int) *T { return &q.buf[(q.head+i)&(len(q.buf)-1)] }

// popFront removes and returns the front element; the deque must not be
// empty. The slot is zeroed so the garbage collector can free what it held.
func (q *deque[T]) popFront() T {
	var zero T
	v := q.buf[q.head]
	q.buf[q.head] = zero
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	return v
}

// clear empties the deque and releases its buffer.
func (q *deque[T]) clear() { *q = deque[T]{} }

// filter keeps, in order, the elements for which keep returns true.
func (q *deque[T]) filter(keep func(*T) bool) {
	var out deque[T]
	for q.n > 0 {
		v := q.popFront()
		if keep(&v) {
			out.pushBack(v)
		}
	}
	*q = out
}
