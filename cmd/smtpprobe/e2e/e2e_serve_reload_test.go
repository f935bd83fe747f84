package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
	"golang.org/x/crypto/bcrypt"
)

// serveBinary runs the built `smtpprobe serve --listen 127.0.0.1:0
// args...` until the test ends and waits (bounded) for its listening
// line. It returns the run and the process, to signal.
func serveBinary(t testing.TB, args ...string) (*exporterRun, *exec.Cmd) {
	t.Helper()
	bin := smtpprobeBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	stderr := &probetest.LockedBuffer{}
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("serve stderr:\n%s", stderr.String())
		}
	})
	srv := &exporterRun{stderr: stderr}
	for i := 0; i < 500 && srv.addr == ""; i++ {
		if m := listeningRE.FindStringSubmatch(stderr.String()); m != nil {
			srv.addr = m[1]
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("smtpprobe serve exited before listening: %v; stderr %q", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if srv.addr == "" {
		t.Fatalf("smtpprobe serve: no \"listening on\" line within 5s; stderr %q", stderr.String())
	}
	return srv, cmd
}

// waitFor polls /metrics (at most 5s) until it contains want.
func waitFor(t testing.TB, srv *exporterRun, want string) bool {
	t.Helper()
	for i := 0; i < 100; i++ {
		if res := srv.get(t, "/metrics", ""); strings.Contains(res.Body, want) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// waitServeLog polls the exporter's log, for up to 5 s, until it holds every
// one of want. The log line of a reload comes after the reload's metrics
// change, through the stderr pipe, so /metrics can show the new state a
// moment before the line is there.
func waitServeLog(srv *exporterRun, want ...string) bool {
	for i := 0; i < 100; i++ {
		if probetest.ContainsAll(srv.stderr.String(), want) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// TestE2EServeReload: SIGHUP to the binary reloads --config; a broken
// file keeps the configuration in force, says why in the log and in a
// 500 to POST /-/reload, and sets smtpprobe_config_last_reload_successful 0.
func TestE2EServeReload(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: builds the binary; skipped with -short")
	}
	t.Parallel()
	l := startServeLab(t)
	good, err := os.ReadFile(l.config(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	srv, cmd := serveBinary(t, "--config", path)
	probeMX := func() int {
		return srv.get(t, "/probe?target=demo.example:"+l.port+"&module=mx", "5").Code
	}
	if code := probeMX(); code != 200 {
		t.Fatalf("probe before the reload: %d", code)
	}

	// A new module, by SIGHUP.
	withExtra := strings.Replace(string(good), "modules:\n", "modules:\n  extra:\n    command: mx\n", 1)
	if err := os.WriteFile(path, []byte(withExtra), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !waitFor(t, srv, `smtpprobe_exporter_probes_total{module="extra",result="success"} 0`) {
		t.Errorf("after SIGHUP, /metrics has no series of the new module extra")
	}
	if !waitServeLog(srv, "reloaded "+path+": 2 modules (extra, mx) (was 1 module (mx))") {
		t.Errorf("log lacks the reload: %q", srv.stderr.String())
	}

	// A broken file, by SIGHUP: the old configuration stays.
	broken := strings.Replace(withExtra, "  extra:\n    command: mx\n", "  extra:\n    command: mx\n    max_wait: 5m\n", 1)
	if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !waitFor(t, srv, "smtpprobe_config_last_reload_successful 0") {
		t.Errorf("after a SIGHUP with a broken file, smtpprobe_config_last_reload_successful is not 0")
	}
	wantWhy := `serve.yaml:5: key "max_wait" does not apply to module "extra" (command mx): max_wait is for timeout`
	if !waitServeLog(srv, "reload failed, keeping the configuration loaded", wantWhy) {
		t.Errorf("log lacks the failed reload and its reason %q:\n%s", wantWhy, srv.stderr.String())
	}
	if code := probeMX(); code != 200 {
		t.Errorf("probe after a failed reload: %d, want 200 (the old configuration)", code)
	}

	// The same by POST /-/reload: 500 with the reason.
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Post("http://"+srv.addr+"/-/reload", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 500 || !strings.Contains(string(body), wantWhy) {
		t.Errorf("POST /-/reload with a broken file = %d %q, want 500 with %q", res.StatusCode, body, wantWhy)
	}
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = client.Post("http://"+srv.addr+"/-/reload", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "reloaded: 1 module (mx)\n" {
		t.Errorf("POST /-/reload with the good file = %d %q, want 200", res.StatusCode, body)
	}
	if !waitFor(t, srv, "smtpprobe_config_last_reload_successful 1") {
		t.Errorf("after a good reload, smtpprobe_config_last_reload_successful is not 1")
	}
}

// writeCert writes a fresh self-signed certificate for 127.0.0.1 and
// its key as PEM files in dir, and returns their paths and a pool that
// trusts it.
func writeCert(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtpprobe test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestE2EServeWebConfig: --web.config.file puts TLS and basic auth on
// the exporter's listener (exporter-toolkit): plain HTTP and requests
// without the password are refused, the right password over TLS is
// served; a broken web config is exit 3 before listening.
func TestE2EServeWebConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: builds the binary; skipped with -short")
	}
	t.Parallel()
	l := startServeLab(t)
	dir := t.TempDir()
	certFile, keyFile, pool := writeCert(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(dir, "web.yml")
	text := "tls_server_config:\n  cert_file: " + certFile + "\n  key_file: " + keyFile +
		"\nbasic_auth_users:\n  prometheus: " + string(hash) + "\n"
	if err := os.WriteFile(webConfig, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	config := l.config(t, "")
	srv, _ := serveBinary(t, "--config", config, "--web.config.file", webConfig)
	if !strings.Contains(srv.stderr.String(), "TLS is enabled") {
		// exporter-toolkit logs it right after the listening line.
		time.Sleep(200 * time.Millisecond)
	}

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	do := func(scheme, user, pass, path string) (int, string) {
		req, err := http.NewRequest("GET", scheme+"://"+srv.addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "5")
		res, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := do("https", "", "", "/metrics"); code != 401 {
		t.Errorf("TLS without a password: %d %q, want 401", code, body)
	}
	if code, _ := do("https", "prometheus", "wrong", "/metrics"); code != 401 {
		t.Errorf("TLS with a wrong password: %d, want 401", code)
	}
	if code, body := do("https", "prometheus", "s3cret", "/metrics"); code != 200 || !strings.Contains(body, "smtpprobe_exporter_max_concurrent") {
		t.Errorf("TLS with the password: %d, want 200 and the metrics", code)
	}
	if code, body := do("https", "prometheus", "s3cret", "/probe?target=demo.example:"+l.port+"&module=mx"); code != 200 || !strings.Contains(body, "smtpprobe_success") {
		t.Errorf("probe over TLS with the password: %d %q", code, body)
	}
	if code, body := do("http", "prometheus", "s3cret", "/metrics"); code == 200 {
		t.Errorf("plain HTTP to the TLS listener: %d %q, want a refusal", code, body)
	}
	if !strings.Contains(srv.stderr.String(), "TLS is enabled") {
		t.Errorf("serve log does not say TLS is enabled:\n%s", srv.stderr.String())
	}

	// A web config naming a missing key file: exit 3, one line, no listener.
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("tls_server_config:\n  cert_file: "+certFile+"\n  key_file: /nonexistent/key.pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{nil, {"--validate"}} {
		args := append([]string{"serve", "--listen", "127.0.0.1:0", "--config", config, "--web.config.file", bad}, extra...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, smtpprobeBinary(t), args...).CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errorsAs(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(out), "--web.config.file "+bad+":") ||
			strings.Count(string(out), "\n") != 1 || strings.Contains(string(out), "listening") {
			t.Errorf("serve %v = %v %q, want exit 3 with one line naming --web.config.file", extra, err, out)
		}
	}
}

// errorsAs is errors.As for an *exec.ExitError.
func errorsAs(err error, target **exec.ExitError) bool {
	ee, ok := err.(*exec.ExitError)
	if ok {
		*target = ee
	}
	return ok
}
