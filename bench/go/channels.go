// Command channels measures Go's channels on the workloads of bench/toolkit.ts, for the toolkit bench to print
// beside the Channel figures: buffered send + receive (capacity 128), unbuffered rendezvous, 2048-value chunks
// through one buffered channel, and the chunked pipeline gen -> sq -> sum. One producer goroutine and one consumer
// goroutine per channel, as on the TypeScript side.
//
// It prints one JSON object: per workload, the median over rounds (after one warm-up) of CPU time (user + system,
// all threads, from getrusage) and of wall time, per message or per value — once with GOMAXPROCS=1 (one thread
// runs the goroutines, as one thread runs all fibers in Node: the like-for-like figure) and once with every core.
// Standard library only: it builds with no network and no module (`go run bench/go/channels.go`).
package main

import (
	"encoding/json"
	"flag"
	"os"
	"runtime"
	"sort"
	"syscall"
	"time"
)

// figure is one workload's result, in nanoseconds per unit.
type figure struct {
	CPUNs  float64 `json:"cpuNs"`
	WallNs float64 `json:"wallNs"`
	Units  int     `json:"units"`
}

// sink keeps every sum alive, so no loop can be optimised away.
var sink int

func cpuTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		panic(err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

func median(xs []float64) float64 {
	sorted := append([]float64(nil), xs...)
	sort.Float64s(sorted)
	return sorted[len(sorted)/2]
}

// measure runs `run` once to warm up, then `rounds` times, and reports the medians per unit.
func measure(rounds, units int, run func()) figure {
	run()
	cpu := make([]float64, 0, rounds)
	wall := make([]float64, 0, rounds)
	for i := 0; i < rounds; i++ {
		c0, w0 := cpuTime(), time.Now()
		run()
		cpu = append(cpu, float64(cpuTime()-c0)/float64(units))
		wall = append(wall, float64(time.Since(w0))/float64(units))
	}
	return figure{CPUNs: median(cpu), WallNs: median(wall), Units: units}
}

// oneByOne: one goroutine sends n ints one at a time on a channel of the given capacity, another receives them.
func oneByOne(n, capacity int) {
	ch := make(chan int, capacity)
	done := make(chan int)
	go func() {
		sum := 0
		for i := 0; i < n; i++ {
			sum += <-ch
		}
		done <- sum
	}()
	for i := 0; i < n; i++ {
		ch <- i
	}
	sink += <-done
}

// chunked: n ints in slices of `chunk` through one channel holding capacity/chunk slices (capacity values).
func chunked(n, chunk, capacity int) {
	ch := make(chan []int, capacity/chunk)
	done := make(chan int)
	values := make([]int, chunk)
	for i := range values {
		values[i] = i
	}
	go func() {
		sum := 0
		for s := range ch {
			for _, v := range s {
				sum += v
			}
		}
		done <- sum
	}()
	for sent := 0; sent < n; sent += chunk {
		ch <- values
	}
	close(ch)
	sink += <-done
}

// pipeline: gen -> sq -> sum over channels of `chunk`-value slices; gen copies each chunk out of nums (as the
// TypeScript gen slices it), sq squares the slice it received in place and passes it on, sum adds them up.
func pipeline(nums []int, chunk, capacity int) {
	in := make(chan []int, capacity/chunk)
	out := make(chan []int, capacity/chunk)
	go func() {
		for i := 0; i < len(nums); i += chunk {
			end := i + chunk
			if end > len(nums) {
				end = len(nums)
			}
			s := make([]int, end-i)
			copy(s, nums[i:end])
			in <- s
		}
		close(in)
	}()
	go func() {
		for s := range in {
			for i, v := range s {
				s[i] = v * v
			}
			out <- s
		}
		close(out)
	}()
	sum := 0
	for s := range out {
		total := 0
		for _, v := range s {
			total += v
		}
		sum += total
	}
	sink += sum
}

func main() {
	rounds := flag.Int("rounds", 7, "measured rounds per workload")
	flag.Parse()
	const oneByOneN, chunkedN, chunk, capacity = 2_000_000, 4_000_000, 2048, 4096
	nums := make([]int, chunkedN)
	for i := range nums {
		nums[i] = i & 1023
	}
	workloads := func() map[string]figure {
		return map[string]figure{
			"buffered":   measure(*rounds, oneByOneN, func() { oneByOne(oneByOneN, 128) }),
			"unbuffered": measure(*rounds, oneByOneN, func() { oneByOne(oneByOneN, 0) }),
			"chunked":    measure(*rounds, chunkedN, func() { chunked(chunkedN, chunk, capacity) }),
			"pipeline":   measure(*rounds, chunkedN, func() { pipeline(nums, chunk, capacity) }),
		}
	}
	cores := runtime.NumCPU()
	runtime.GOMAXPROCS(1)
	oneThread := workloads()
	runtime.GOMAXPROCS(cores)
	allCores := workloads()
	result := map[string]any{"version": runtime.Version(), "cores": cores, "oneThread": oneThread, "allCores": allCores}
	if err := json.NewEncoder(os.Stdout).Encode(result); err != nil {
		panic(err)
	}
}
