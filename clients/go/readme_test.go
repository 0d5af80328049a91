// Keeps README.md's quick start identical to Example (which go test runs),
// so the program users paste is the one that was tested.
package baton_test

import (
	"os"
	"strings"
	"testing"
)

func between(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	if i < 0 {
		t.Fatalf("%q not found", start)
	}
	s = s[i+len(start):]
	j := strings.Index(s, end)
	if j < 0 {
		t.Fatalf("%q not found after %q", end, start)
	}
	return strings.TrimSpace(s[:j])
}

func TestReadmeQuickStartIsTheExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fromReadme := between(t, string(readme), "func main() {\n", "\n}\n```")
	fromExample := between(t, string(example), "func Example() {\n", "// Output:")
	if fromReadme != fromExample {
		t.Fatalf("README quick start and Example differ:\n--- README\n%s\n--- Example\n%s", fromReadme, fromExample)
	}
	want := between(t, string(example), "// Output: ", "\n")
	if !strings.Contains(string(readme), "\n"+want+"\n") {
		t.Fatalf("README does not show the output %q", want)
	}
}
