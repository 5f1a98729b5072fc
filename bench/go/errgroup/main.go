// Command errgroup measures golang.org/x/sync/errgroup on the toolkit bench's ErrGroup scenario: a group of 100
// no-op tasks, at most 10 running at once (SetLimit(10)), then Wait — the work `ErrGroup.run(100 × void,
// { limit: 10 })` does in bench/toolkit.ts. It prints one JSON line per group: wall ns (testing.Benchmark's ns/op),
// CPU ns (user + system time of the process over every group testing.Benchmark ran, all threads: the measure the
// Node side reports), allocations, GOMAXPROCS and the Go version.
//
// Builds without network access against the source of the Debian package golang-golang-x-sync-dev (x/sync
// v0.1.0, which has SetLimit and TryGo), in GOPATH mode — bench/toolkit.ts runs it so when `go` is on PATH:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run ./bench/go/errgroup
package main

import (
	"encoding/json"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

const (
	tasks = 100
	limit = 10
)

func group() error {
	var g errgroup.Group
	g.SetLimit(limit)
	for i := 0; i < tasks; i++ {
		g.Go(func() error { return nil })
	}
	return g.Wait()
}

func cpu() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		panic(err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

func main() {
	groups := 0
	start := cpu()
	result := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := group(); err != nil {
				b.Fatal(err)
			}
		}
		groups += b.N
	})
	used := cpu() - start
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"wallNsPerGroup": float64(result.T.Nanoseconds()) / float64(result.N),
		"cpuNsPerGroup":  float64(used.Nanoseconds()) / float64(groups),
		"allocsPerGroup": result.AllocsPerOp(),
		"gomaxprocs":     runtime.GOMAXPROCS(0),
		"go":             runtime.Version(),
	})
}
