package lrucache

import "testing"

func TestPutThenGet(t *testing.T) {
	c := New(2)
	c.Put("a", 1)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Errorf("Get(a): got (%d, %v) want (1, true)", v, ok)
	}
	if _, ok := c.Get("missing"); ok {
		t.Errorf("Get(missing): got present want absent")
	}
}

func TestEvictsOldestWhenFull(t *testing.T) {
	c := New(2)
	c.Put("a", 1)
	c.Put("b", 2)
	c.Put("c", 3)
	if _, ok := c.Get("a"); ok {
		t.Errorf("a should have been evicted")
	}
	if c.Len() != 2 {
		t.Errorf("Len: got %d want 2", c.Len())
	}
}

func TestGetRefreshesRecency(t *testing.T) {
	c := New(2)
	c.Put("a", 1)
	c.Put("b", 2)
	c.Get("a") // a is now the most recently used
	c.Put("c", 3)
	if _, ok := c.Get("a"); !ok {
		t.Errorf("a was read last and should have survived; b should have been evicted")
	}
	if _, ok := c.Get("b"); ok {
		t.Errorf("b was least recently used and should have been evicted")
	}
}

func TestUpdateKeepsOneEntry(t *testing.T) {
	c := New(2)
	c.Put("a", 1)
	c.Put("a", 10)
	if v, _ := c.Get("a"); v != 10 {
		t.Errorf("Get(a): got %d want 10", v)
	}
	if c.Len() != 1 {
		t.Errorf("Len: got %d want 1", c.Len())
	}
}

func TestManyGetsKeepHotKey(t *testing.T) {
	c := New(3)
	c.Put("hot", 0)
	for i, k := range []string{"k1", "k2", "k3", "k4", "k5"} {
		c.Get("hot")
		c.Put(k, i)
	}
	if _, ok := c.Get("hot"); !ok {
		t.Errorf("a key read before every insert must never be evicted")
	}
}
