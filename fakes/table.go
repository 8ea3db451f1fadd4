package fakes

// table is a map that gives its memory back. A Go map keeps the space of
// its largest size after deletes, so a development server that made 100,000
// short-lived jobs would hold their space forever: once a table holds under
// a quarter of its peak, it is copied into a map of its present size.
type table[V any] struct {
	m    map[string]V
	peak int
}

func newTable[V any]() table[V] { return table[V]{m: make(map[string]V)} }

func (t *table[V]) put(k string, v V) {
	t.m[k] = v
	t.peak = max(t.peak, len(t.m))
}

func (t *table[V]) delete(k string) {
	delete(t.m, k)
	t.shrink()
}

// deleteFunc deletes the entries del reports true of, and returns them.
func (t *table[V]) deleteFunc(del func(V) bool) []V {
	var gone []V
	for k, v := range t.m {
		if del(v) {
			gone = append(gone, v)
			delete(t.m, k)
		}
	}
	t.shrink()
	return gone
}

func (t *table[V]) shrink() {
	const minPeak = 1024 // below this, the space is not worth a copy
	if t.peak < minPeak || len(t.m) >= t.peak/4 {
		return
	}
	m := make(map[string]V, len(t.m))
	for k, v := range t.m {
		m[k] = v
	}
	t.m, t.peak = m, len(m)
}
