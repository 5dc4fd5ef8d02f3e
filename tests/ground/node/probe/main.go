// probe is the program of the ground node's test image (tests/e2e/tests/node.rs). It has no
// dependencies beyond Go's standard library and is built static (CGO_ENABLED=0).
//
//	probe        print the container's cgroup v1 memory limit; with the Pod's automounted
//	             ServiceAccount token, call the apiserver (a SelfSubjectReview and a pod list);
//	             then wait for SIGTERM and record it in $PROBE_MARKER_DIR/$POD_NAME.terminated
//	probe hog    allocate and touch memory until the kernel kills the process
//
// Every result is one line on stdout starting with "probe: ", for `kubectl logs`.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func say(format string, args ...any) {
	fmt.Printf("probe: "+format+"\n", args...)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "hog" {
		hog()
		return
	}
	// Register before anything else so a SIGTERM that arrives early is not lost.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)

	memoryLimit()
	if err := callAPIServer(); err != nil {
		say("apiserver error: %v", err)
	}
	say("ready")

	<-term
	say("got SIGTERM")
	if dir := os.Getenv("PROBE_MARKER_DIR"); dir != "" {
		name := os.Getenv("POD_NAME") + ".terminated"
		msg := fmt.Sprintf("got SIGTERM at %s\n", time.Now().UTC().Format(time.RFC3339Nano))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(msg), 0o644); err != nil {
			say("marker error: %v", err)
			os.Exit(1)
		}
	}
}

// memoryLimit prints the memory limit of the container's cgroup (v1: runc mounts the
// container's own memory cgroup at /sys/fs/cgroup/memory).
func memoryLimit() {
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[1] == "memory" {
				say("memory cgroup=%s", parts[2])
			}
		}
	}
	b, err := os.ReadFile("/sys/fs/cgroup/memory/memory.limit_in_bytes")
	if err != nil {
		say("memory.limit_in_bytes error: %v", err)
		return
	}
	say("memory.limit_in_bytes=%s", strings.TrimSpace(string(b)))
}

// callAPIServer uses the token, CA and namespace the ServiceAccount admission plugin mounts.
func callAPIServer() error {
	token, err := os.ReadFile(filepath.Join(saDir, "token"))
	if err != nil {
		return err
	}
	ns, err := os.ReadFile(filepath.Join(saDir, "namespace"))
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return fmt.Errorf("no certificate in %s/ca.crt", saDir)
	}
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	base := "https://" + net.JoinHostPort(host, port)
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	call := func(method, path string, body []byte) (int, []byte, error) {
		req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		return resp.StatusCode, out, err
	}

	status, out, err := call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
		[]byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`))
	if err != nil {
		return err
	}
	var review struct {
		Status struct {
			UserInfo struct {
				Username string `json:"username"`
			} `json:"userInfo"`
		} `json:"status"`
	}
	_ = json.Unmarshal(out, &review)
	say("selfsubjectreview status=%d username=%s", status, review.Status.UserInfo.Username)

	status, out, err = call("GET", "/api/v1/namespaces/"+string(ns)+"/pods", nil)
	if err != nil {
		return err
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	_ = json.Unmarshal(out, &list)
	say("list pods status=%d count=%d", status, len(list.Items))
	return nil
}

// hog allocates 4 MiB at a time and writes every page, so the memory is really charged to
// the cgroup, until the kernel's OOM killer ends it.
func hog() {
	var kept [][]byte
	for i := 1; ; i++ {
		chunk := make([]byte, 4<<20)
		for j := 0; j < len(chunk); j += 4096 {
			chunk[j] = byte(i)
		}
		kept = append(kept, chunk)
		if i%4 == 0 {
			say("hog holds %d MiB", 4*i)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
