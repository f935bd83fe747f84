package e2e

// Issue 20, friction 3: an install. `make install` with PREFIX and
// DESTDIR puts every file at its standard path, and --version shows a
// real version both from make (git describe) and from go install (the
// module version in the build information).

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// repoRoot is the module's root: three levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
	return root
}

// needTools skips (or fails under CI=true) without the tools, and under -short.
func needTools(t testing.TB, tools ...string) {
	t.Helper()
	if testing.Short() && !inCI() {
		t.Skip("e2e: builds the binary; skipped with -short")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if inCI() {
				t.Fatalf("needs %s (CI=true: not skipping)", tool)
			}
			t.Skipf("needs %s", tool)
		}
	}
}

func runIn(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env, cmd.WaitDelay = dir, append(os.Environ(), env...), 10*time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestMakeInstall(t *testing.T) {
	needTools(t, "make", "git", "install")
	t.Parallel()
	root := repoRoot(t)
	dest := t.TempDir()
	bin := filepath.Join(t.TempDir(), "smtpprobe")
	// BIN keeps this build apart from a developer's bin/smtpprobe.
	runIn(t, root, nil, "make", "install", "DESTDIR="+dest, "PREFIX=/usr", "BIN="+bin)

	want := map[string]string{ // installed file: a line it must contain
		"usr/bin/smtpprobe":                                    "",
		"usr/share/man/man1/smtpprobe.1":                       ".TH SMTPPROBE 1",
		"usr/share/bash-completion/completions/smtpprobe":      "smtpprobe",
		"usr/share/zsh/site-functions/_smtpprobe":              "#compdef smtpprobe",
		"usr/share/fish/vendor_completions.d/smtpprobe.fish":   "complete -c smtpprobe",
		"usr/share/smtpprobe/prometheus.yml":                   "job_name",
		"usr/share/smtpprobe/smtpprobe.rules.yml":              "groups:",
		"usr/share/smtpprobe/smtpprobe.rules.test.yml":         "rule_files:",
		"usr/share/smtpprobe/prometheus-vantages.yml":          "__exporter__",
		"usr/share/smtpprobe/smtpprobe.vantage.rules.yml":      "SMTPProbeFailingFromEveryVantage",
		"usr/share/smtpprobe/smtpprobe.vantage.rules.test.yml": "rule_files:",
		"usr/share/smtpprobe/systemd/smtpprobe.service":        "ExecStart=/usr/bin/smtpprobe serve",
		"usr/share/smtpprobe/systemd/smtpprobe-check.service":  "ExecStart=/usr/bin/smtpprobe check",
		"usr/share/smtpprobe/systemd/smtpprobe-check.timer":    "OnCalendar",
	}
	var got []string
	filepath.WalkDir(dest, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dest, p)
			got = append(got, rel)
		}
		return nil
	})
	if len(got) != len(want) {
		t.Errorf("make install DESTDIR=... PREFIX=/usr installed %d files %q, want %d", len(got), got, len(want))
	}
	for f, line := range want {
		b, err := os.ReadFile(filepath.Join(dest, f))
		switch {
		case err != nil:
			t.Errorf("make install: %s: %v", f, err)
		case line != "" && !bytes.Contains(b, []byte(line)):
			t.Errorf("make install: %s does not contain %q", f, line)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "usr/share/smtpprobe/systemd/smtpprobe.service")); bytes.Contains(b, []byte("/usr/local/bin")) {
		t.Errorf("make install PREFIX=/usr: smtpprobe.service still names /usr/local/bin")
	}
	if st, err := os.Stat(filepath.Join(dest, "usr/bin/smtpprobe")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("make install: usr/bin/smtpprobe mode %v, %v; want 0755", st.Mode(), err)
	}

	// --version is git describe's, as make stamped it.
	describe := strings.TrimSpace(runIn(t, root, nil, "git", "describe", "--tags", "--always", "--dirty"))
	v := runIn(t, root, nil, filepath.Join(dest, "usr/bin/smtpprobe"), "--version")
	if first := strings.SplitN(v, "\n", 2)[0]; first != "smtpprobe "+describe {
		t.Errorf("installed smtpprobe --version = %q, want \"smtpprobe %s\" (git describe)", first, describe)
	}
	// The man page carries it too.
	if b, _ := os.ReadFile(filepath.Join(dest, "usr/share/man/man1/smtpprobe.1")); !bytes.Contains(b, []byte(describe)) {
		t.Errorf("installed man page does not name the version %s", describe)
	}
}

// TestGoInstallVersion: `go install MODULE/cmd/smtpprobe@VERSION` gives a
// binary whose --version is that module version. The module comes from
// a file:// proxy made here from the checkout (git ls-files), its
// dependencies from the module cache's download directory: nothing is
// fetched, and the shared module cache is not touched.
func TestGoInstallVersion(t *testing.T) {
	needTools(t, "go", "git")
	t.Parallel()
	root := repoRoot(t)
	const mod, ver = "github.com/smtpprobe/smtpprobe", "v0.99.0"
	proxy := t.TempDir()
	dir := filepath.Join(proxy, mod, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for _, f := range strings.Split(strings.TrimSpace(runIn(t, root, nil, "git", "ls-files")), "\n") {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue // deleted in the work tree
		}
		w, err := zw.Create(mod + "@" + ver + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		ver + ".info": []byte(`{"Version":"` + ver + `","Time":"2026-12-01T00:00:00Z"}`),
		ver + ".mod":  gomod, ver + ".zip": zb.Bytes(), "list": []byte(ver + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A module cache of its own, so that the made-up version never
	// lands in the shared one; the shared one's download directory is a
	// proxy for the dependencies.
	gobin := t.TempDir()
	shared := strings.TrimSpace(runIn(t, root, nil, "go", "env", "GOMODCACHE"))
	runIn(t, t.TempDir(), []string{"GOBIN=" + gobin, "GOPROXY=file://" + proxy + ",file://" + filepath.Join(shared, "cache", "download"),
		"GOFLAGS=-modcacherw", "GONOSUMDB=" + mod, "GOSUMDB=off", "GOMODCACHE=" + t.TempDir(), "GOWORK=off"},
		"go", "install", mod+"/cmd/smtpprobe@"+ver)
	v := runIn(t, root, nil, filepath.Join(gobin, "smtpprobe"), "--version")
	if !regexp.MustCompile(`^smtpprobe ` + regexp.QuoteMeta(ver) + "\n").MatchString(v) {
		t.Errorf("go install ...@%s; smtpprobe --version = %q, want \"smtpprobe %s\"", ver, v, ver)
	}
}
