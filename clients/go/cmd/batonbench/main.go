// batonbench measures the Go Worker: it enqueues N no-op jobs (batches of
// 1,000), runs a Worker with the given concurrency until all are completed,
// and prints the rates as one JSON line. It also times N enqueues from 32
// concurrent callers through the coalescing Client.
//
// Against a running server: -url and -key (or BATON_URL, BATON_KEY). With
// neither, it starts $BATOND (or -batond) in a temporary directory with
// --sync normal on 127.0.0.1:0 and stops it at the end.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	baton "github.com/baton-dev/baton/clients/go"
)

func main() {
	url := flag.String("url", os.Getenv("BATON_URL"), "server URL (empty: start -batond)")
	key := flag.String("key", os.Getenv("BATON_KEY"), "API key")
	bin := flag.String("batond", os.Getenv("BATOND"), "batond binary to start when -url is empty")
	n := flag.Int("n", 2000, "jobs")
	conc := flag.Int("concurrency", 100, "worker concurrency")
	callers := flag.Int("callers", 32, "concurrent enqueue callers for the coalesced-enqueue rate")
	flag.Parse()
	if *url == "" {
		if *bin == "" {
			fail(fmt.Errorf("give -url or -batond (or BATOND)"))
		}
		u, k, stop, err := startServer(*bin)
		if err != nil {
			fail(err)
		}
		defer stop()
		*url, *key = u, k
	}
	res, err := run(*url, *key, *n, *conc, *callers)
	if err != nil {
		fail(err)
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "batonbench:", err)
	os.Exit(1)
}

type result struct {
	Lib              string  `json:"lib"`
	N                int     `json:"n"`
	Concurrency      int     `json:"concurrency"`
	WorkerSeconds    float64 `json:"worker_seconds"`
	WorkerJobsPerS   float64 `json:"worker_jobs_per_s"`
	BatchEnqueuePerS float64 `json:"batch_enqueue_jobs_per_s"`
	Callers          int     `json:"coalesced_enqueue_callers"`
	CoalescedPerS    float64 `json:"coalesced_enqueue_jobs_per_s"`
}

func run(url, key string, n, conc, callers int) (*result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := baton.NewClient(url, key, baton.WithMinimalEnqueue(true))
	defer c.Close()
	q := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	res := &result{Lib: "baton-go " + baton.Version, N: n, Concurrency: conc, Callers: callers}

	t0 := time.Now()
	for done := 0; done < n; {
		m := n - done
		if m > 1000 {
			m = 1000
		}
		reqs := make([]baton.EnqueueRequest, m)
		for i := range reqs {
			reqs[i] = baton.EnqueueRequest{Queue: q, Type: "noop"}
		}
		if _, err := c.EnqueueBatch(ctx, reqs); err != nil {
			return nil, err
		}
		done += m
	}
	res.BatchEnqueuePerS = float64(n) / time.Since(t0).Seconds()

	var completed atomic.Int64
	all := make(chan struct{})
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var firstErr atomic.Value
	w := baton.NewWorker(c, baton.WorkerOptions{Queue: q, Concurrency: conc, WaitMs: 500,
		OnEvent: func(e baton.Event) {
			switch e.Type {
			case baton.EventCompleted:
				if completed.Add(1) == int64(n) {
					close(all)
				}
			case baton.EventError, baton.EventLeaseLost:
				firstErr.CompareAndSwap(nil, e.Err)
			}
		},
		Handler: func(context.Context, *baton.Job) (any, error) { return nil, nil }})
	t1 := time.Now()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(wctx) }()
	select {
	case <-all:
	case err := <-runErr:
		return nil, fmt.Errorf("worker stopped: %v", err)
	case <-ctx.Done():
		return nil, fmt.Errorf("timed out with %d of %d completed (first error %v)", completed.Load(), n, firstErr.Load())
	}
	res.WorkerSeconds = time.Since(t1).Seconds()
	res.WorkerJobsPerS = float64(n) / res.WorkerSeconds
	stop()
	if err := <-runErr; err != nil {
		return nil, err
	}

	cc := baton.NewClient(url, key, baton.WithMinimalEnqueue(true), baton.WithCoalescing(true, 0))
	defer cc.Close()
	var next atomic.Int64
	var wg sync.WaitGroup
	var encErr atomic.Value
	t2 := time.Now()
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if _, err := cc.Enqueue(ctx, baton.EnqueueRequest{Queue: q + "-c", Type: "noop"}); err != nil {
					encErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if e := encErr.Load(); e != nil {
		return nil, e.(error)
	}
	res.CoalescedPerS = float64(n) / time.Since(t2).Seconds()
	return res, nil
}

// startServer runs batond in a temporary directory and returns its URL,
// admin key and a stop function (SIGTERM, then SIGKILL after 10 s).
func startServer(bin string) (string, string, func(), error) {
	dir, err := os.MkdirTemp("", "batonbench-")
	if err != nil {
		return "", "", nil, err
	}
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--sync", "normal", "--log-level", "error")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", "", nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(dir)
	}
	urlCh := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil && !sent {
				urlCh <- m[1]
				sent = true
			}
		}
	}()
	var url string
	select {
	case url = <-urlCh:
	case <-exited:
		stop()
		return "", "", nil, fmt.Errorf("batond exited before listening")
	case <-time.After(10 * time.Second):
		stop()
		return "", "", nil, fmt.Errorf("batond did not listen within 10 s")
	}
	for i := 0; i < 100; i++ {
		if _, err := baton.NewClient(url, "").Health(context.Background()); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	k, err := os.ReadFile(filepath.Join(dir, "data", "admin.key"))
	if err != nil {
		stop()
		return "", "", nil, err
	}
	return url, strings.TrimSpace(string(k)), stop, nil
}
