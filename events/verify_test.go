package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
)

// chainOf builds a sound chain of n envelopes without a store, so Verify's
// cases can damage it precisely.
func chainOf(n int) []Envelope {
	envs := make([]Envelope, n)
	prev := GenesisHash
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range envs {
		e := Envelope{
			Position: uint64(i + 1),
			Stream:   fmt.Sprintf("release/%d", i%3),
			Version:  uint64(i/3 + 1),
			Type:     "release.noted",
			Schema:   1,
			Time:     t0.Add(time.Duration(i) * time.Second),
			Actor:    "alice",
			Data:     json.RawMessage(fmt.Sprintf(`{"n":%d}`, i+1)),
			PrevHash: prev,
		}
		e.Hash = e.ComputeHash()
		prev = e.Hash
		envs[i] = e
	}
	return envs
}

// rehash recomputes the hashes from index i on, as a forger would.
func rehash(envs []Envelope, i int) {
	for ; i < len(envs); i++ {
		if i > 0 {
			envs[i].PrevHash = envs[i-1].Hash
		}
		envs[i].Hash = envs[i].ComputeHash()
	}
}

func headOf(envs []Envelope) Head {
	if len(envs) == 0 {
		return Head{Hash: GenesisHash}
	}
	last := envs[len(envs)-1]
	return Head{Position: last.Position, Hash: last.Hash}
}

func TestVerifySlice(t *testing.T) {
	cases := []struct {
		name    string
		damage  func(envs []Envelope) ([]Envelope, Head) // returns the log and its durable head
		wantPos uint64
		kind    string
	}{
		{"sound", func(e []Envelope) ([]Envelope, Head) { return e, headOf(e) }, 0, ""},
		{"empty", func([]Envelope) ([]Envelope, Head) { return nil, Head{Hash: GenesisHash} }, 0, ""},
		{"edited data", func(e []Envelope) ([]Envelope, Head) {
			h := headOf(e)
			e[41].Data = json.RawMessage(`{"n":4200}`)
			return e, h
		}, 42, KindEdited},
		{"edited actor", func(e []Envelope) ([]Envelope, Head) {
			h := headOf(e)
			e[0].Actor = "mallory"
			return e, h
		}, 1, KindEdited},
		{"edited hash", func(e []Envelope) ([]Envelope, Head) {
			h := headOf(e)
			e[9].Hash = GenesisHash
			return e, h
		}, 10, KindEdited},
		{"deleted", func(e []Envelope) ([]Envelope, Head) {
			h := headOf(e)
			return append(e[:41:41], e[42:]...), h
		}, 42, KindMissing},
		{"deleted three", func(e []Envelope) ([]Envelope, Head) {
			h := headOf(e)
			return append(e[:9:9], e[12:]...), h
		}, 10, KindMissing},
		{"deleted first", func(e []Envelope) ([]Envelope, Head) { return e[1:], headOf(e) }, 1, KindMissing},
		{"swapped", func(e []Envelope) ([]Envelope, Head) {
			e[41], e[42] = e[42], e[41]
			return e, headOf(e)
		}, 42, KindReordered},
		{"moved far", func(e []Envelope) ([]Envelope, Head) {
			h := headOf(e)
			moved := e[20]
			rest := append(e[:20:20], e[21:]...)
			return append(rest, moved), h
		}, 21, KindReordered},
		{"duplicated", func(e []Envelope) ([]Envelope, Head) {
			h := headOf(e)
			out := append(e[:31:31], e[30])
			return append(out, e[31:]...), h
		}, 32, KindReordered},
		{"replaced and rehashed alone", func(e []Envelope) ([]Envelope, Head) {
			h := headOf(e)
			e[41].Data = json.RawMessage(`{"n":1}`)
			e[41].Hash = e[41].ComputeHash()
			return e, h
		}, 43, KindReordered},
		{"rewritten to the end", func(e []Envelope) ([]Envelope, Head) {
			h := headOf(e)
			e[41].Data = json.RawMessage(`{"n":1}`)
			rehash(e, 41)
			return e, h
		}, 100, KindLostTail},
		{"lost tail", func(e []Envelope) ([]Envelope, Head) { return e[:97], headOf(e) }, 98, KindLostTail},
		{"lost everything", func(e []Envelope) ([]Envelope, Head) { return nil, headOf(e) }, 1, KindLostTail},
		{"lost tail rewritten", func(e []Envelope) ([]Envelope, Head) {
			h := headOf(e)
			e[99].Actor = "mallory"
			rehash(e, 99)
			return e, h
		}, 100, KindLostTail},
		{"durable head behind the log", func(e []Envelope) ([]Envelope, Head) {
			return e, Head{Position: 50, Hash: e[49].Hash}
		}, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			envs, durable := tc.damage(chainOf(100))
			rep, err := Verify(context.Background(), &sliceLog{envs: envs, durable: durable})
			if err != nil {
				t.Fatal(err)
			}
			if tc.kind == "" {
				if !rep.OK() || rep.Err() != nil {
					t.Fatalf("want OK, got %+v", rep.Problem)
				}
				if rep.Count != uint64(len(envs)) || rep.Head != headOf(envs) {
					t.Fatalf("count %d head %+v, want %d %+v", rep.Count, rep.Head, len(envs), headOf(envs))
				}
				return
			}
			if rep.OK() {
				t.Fatalf("want %s at %d, got OK", tc.kind, tc.wantPos)
			}
			if rep.Problem.Position != tc.wantPos || rep.Problem.Kind != tc.kind {
				t.Fatalf("got %s at %d (%s), want %s at %d", rep.Problem.Kind, rep.Problem.Position, rep.Problem.Reason, tc.kind, tc.wantPos)
			}
			if rep.Count >= tc.wantPos {
				t.Fatalf("count %d should cover only the good prefix before %d", rep.Count, tc.wantPos)
			}
		})
	}
}

func TestVerifySparse(t *testing.T) {
	even := func(envs []Envelope) []Envelope {
		var out []Envelope
		for _, e := range envs {
			if e.Position%2 == 0 || e.Position > 90 {
				out = append(out, e)
			}
		}
		return out
	}
	t.Run("sound", func(t *testing.T) {
		full := chainOf(100)
		rep, err := verifyChain(context.Background(), &sliceLog{envs: even(full), durable: headOf(full)}, true, "the head record")
		if err != nil || !rep.OK() {
			t.Fatalf("want OK, got %v %+v", err, rep.Problem)
		}
	})
	t.Run("edited", func(t *testing.T) {
		full := chainOf(100)
		envs := even(full)
		envs[3].Actor = "mallory" // position 8
		rep, _ := verifyChain(context.Background(), &sliceLog{envs: envs, durable: headOf(full)}, true, "the head record")
		if rep.OK() || rep.Problem.Position != 8 || rep.Problem.Kind != KindEdited {
			t.Fatalf("got %+v", rep.Problem)
		}
	})
	t.Run("swapped", func(t *testing.T) {
		full := chainOf(100)
		envs := even(full)
		envs[3], envs[4] = envs[4], envs[3] // positions 8 and 10
		rep, _ := verifyChain(context.Background(), &sliceLog{envs: envs, durable: headOf(full)}, true, "the head record")
		if rep.OK() || rep.Problem.Position != 8 || rep.Problem.Kind != KindReordered {
			t.Fatalf("got %+v", rep.Problem)
		}
	})
	t.Run("bad link between neighbours", func(t *testing.T) {
		full := chainOf(100)
		full[94].Actor = "mallory"
		full[94].Hash = full[94].ComputeHash()
		rep, _ := verifyChain(context.Background(), &sliceLog{envs: even(full), durable: headOf(full)}, true, "the head record")
		if rep.OK() || rep.Problem.Position != 96 || rep.Problem.Kind != KindReordered {
			t.Fatalf("got %+v", rep.Problem)
		}
	})
}

func TestReportErr(t *testing.T) {
	rep := Report{Problem: &Problem{Position: 42, Kind: KindEdited, Reason: "its hash does not match its content"}}
	err := rep.Err()
	if !errors.Is(err, ErrChainBroken) {
		t.Fatalf("%v does not match ErrChainBroken", err)
	}
	want := "events: chain broken at position 42: edited (its hash does not match its content)"
	if err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
	var p *Problem
	if !errors.As(fmt.Errorf("wrapped: %w", err), &p) || p.Position != 42 {
		t.Fatalf("errors.As gave %+v", p)
	}
	if (Report{}).Err() != nil || !(Report{}).OK() {
		t.Fatal("an empty report should be OK")
	}
}

// failingLog fails its reads, to check Verify reports I/O errors as errors.
type failingLog struct {
	headErr, readErr error
	envs             []Envelope
}

func (f failingLog) DurableHead() (Head, error) { return headOf(f.envs), f.headErr }
func (f failingLog) ReadRaw(ctx context.Context, from uint64, fn func(Envelope) error) error {
	for _, e := range f.envs {
		if err := fn(e); err != nil {
			return err
		}
	}
	return f.readErr
}

func TestVerifyReadErrors(t *testing.T) {
	disk := errors.New("disk on fire")
	for name, l := range map[string]failingLog{
		"head": {headErr: disk},
		"read": {readErr: disk, envs: chainOf(5)},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Verify(context.Background(), l); !errors.Is(err, disk) {
				t.Fatalf("got %v, want the read error", err)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		envs := chainOf(10)
		if _, err := Verify(ctx, &sliceLog{envs: envs, durable: headOf(envs)}); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
}

// TestVerifyStore verifies real logs, Badger and memory, as they are written.
func TestVerifyStore(t *testing.T) {
	ctx := context.Background()
	for name, open := range logFactories() {
		t.Run(name, func(t *testing.T) {
			l := open(t)
			rep, err := Verify(ctx, l)
			if err != nil || !rep.OK() || rep.Count != 0 {
				t.Fatalf("empty log: %v %+v", err, rep)
			}
			appendSample(t, l, 150)
			rep, err = Verify(ctx, l)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Count != 150 || rep.Head != l.Head() {
				t.Fatalf("got %+v, head %+v", rep, l.Head())
			}
		})
	}
}
