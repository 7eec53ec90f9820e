// Command sample-app is the trivial program of the harness's own tests: an HTTP server that
// shows what a pod sees (its names, environment, volume, API identity) and can be told to
// crash.
//
//	GET /healthz          200 (readiness and liveness probes)
//	GET /                 JSON: pod name, namespace, IP, hostname, pid, boot count
//	GET /peer?addr=H:P    fetches http://H:P/ from this pod (pod-to-pod by DNS name)
//	GET /whoami           the API server's view of this pod's credentials (KUBECONFIG)
//	GET /exit?code=N      exits with status N
//
// On start it counts its boots in DATA_DIR/boots and reports whether its previous run ended
// by SIGTERM; on SIGTERM it writes DATA_DIR/terminated and exits 0.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	dataDir := env("DATA_DIR", ".")
	listen := env("LISTEN", ":8080")
	boots, err := countBoot(dataDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sample-app:", err)
		os.Exit(1)
	}
	terminatedFile := filepath.Join(dataDir, "terminated")
	_, err = os.Stat(terminatedFile)
	previousSigterm := err == nil
	_ = os.Remove(terminatedFile)
	hostname, _ := os.Hostname()
	info := map[string]any{
		"pod": os.Getenv("POD_NAME"), "namespace": os.Getenv("POD_NAMESPACE"), "pod_ip": os.Getenv("POD_IP"),
		"hostname": hostname, "pid": os.Getpid(), "boots": boots, "args": os.Args[1:],
		"previous_sigterm": previousSigterm,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, info) })
	mux.HandleFunc("/peer", peer)
	mux.HandleFunc("/whoami", whoami)
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		fmt.Fprintln(w, "exiting", code)
		w.(http.Flusher).Flush()
		go func() { time.Sleep(50 * time.Millisecond); os.Exit(code) }()
	})
	srv := &http.Server{Addr: listen, Handler: mux}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		_ = os.WriteFile(terminatedFile, []byte(time.Now().Format(time.RFC3339Nano)), 0o644)
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "sample-app:", err)
		os.Exit(1)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// countBoot increments DATA_DIR/boots, which only grows if the directory outlives the process.
func countBoot(dir string) (int, error) {
	path := filepath.Join(dir, "boots")
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return 0, err
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(old)))
	n++
	return n, os.WriteFile(path, []byte(strconv.Itoa(n)), 0o644)
}

func peer(w http.ResponseWriter, r *http.Request) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + r.URL.Query().Get("addr") + "/")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(w, resp.Body)
}

func whoami(w http.ResponseWriter, r *http.Request) {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(r.Context(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	writeJSON(w, map[string]any{"username": review.Status.UserInfo.Username, "groups": review.Status.UserInfo.Groups})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
