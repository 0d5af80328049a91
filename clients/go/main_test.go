// Test harness: TestMain starts a real batond ($BATOND) on 127.0.0.1:0 in a
// temporary data directory, reads its port from stdout and the admin key
// from <data>/admin.key, and stops it by pid (SIGTERM, then SIGKILL) however
// the tests end. BATON_URL and BATON_KEY are set for the examples.
package baton_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	baton "github.com/baton-dev/baton/clients/go"
)

var (
	serverURL string
	adminKey  string
	seq       atomic.Int64
)

func TestMain(m *testing.M) {
	bin := os.Getenv("BATOND")
	if bin == "" {
		fmt.Fprintln(os.Stderr, "BATOND is not set: these tests need a batond binary (see run_tests.sh)")
		os.Exit(2)
	}
	os.Exit(runWithServer(bin, m))
}

func runWithServer(bin string, m *testing.M) int {
	dir, err := os.MkdirTemp("", "baton-go-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"),
		"--sync", "normal", "--log-level", "error")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting batond:", err)
		return 2
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer stopServer(cmd, exited)

	urlCh := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() { // keep reading so the server never blocks on a full pipe
			if mm := re.FindStringSubmatch(sc.Text()); mm != nil && !sent {
				urlCh <- mm[1]
				sent = true
			}
		}
	}()
	select {
	case serverURL = <-urlCh:
	case <-exited:
		fmt.Fprintln(os.Stderr, "batond exited before listening")
		return 2
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "batond did not print its address within 10 s")
		return 2
	}
	ok := false
	for i := 0; i < 100; i++ {
		resp, err := http.Get(serverURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ok = true
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !ok {
		fmt.Fprintln(os.Stderr, "batond /healthz never answered 200")
		return 2
	}
	key, err := os.ReadFile(filepath.Join(dir, "data", "admin.key"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading admin.key:", err)
		return 2
	}
	adminKey = strings.TrimSpace(string(key))
	os.Setenv("BATON_URL", serverURL)
	os.Setenv("BATON_KEY", adminKey)
	return m.Run()
}

func stopServer(cmd *exec.Cmd, exited chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// admin is a client with the admin key; tests that count goroutines make their own.
func admin(opts ...baton.Option) *baton.Client {
	return baton.NewClient(serverURL, adminKey, opts...)
}

// queueName gives each test its own queue so tests never see each other's jobs.
func queueName(t *testing.T) string {
	name := regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(t.Name(), "-")
	if len(name) > 80 {
		name = name[:80]
	}
	return fmt.Sprintf("%s-%d", name, seq.Add(1))
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newKey makes a key with these scopes (and tenant, when not "").
func newKey(t *testing.T, tenant string, scopes []string, rate *baton.Rate) string {
	t.Helper()
	k, err := admin().CreateKey(ctxT(t, 5*time.Second), baton.KeyCreate{Name: "test " + t.Name(), Tenant: tenant, Scopes: scopes, RateLimit: rate})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	if !strings.HasPrefix(k.Secret, "bk_") || k.Key.ID == "" {
		t.Fatalf("CreateKey answered %+v", k)
	}
	return k.Secret
}

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
