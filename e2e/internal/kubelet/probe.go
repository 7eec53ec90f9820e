package kubelet

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// startProbes runs c's probes for its current process: startup first, then readiness and
// liveness. A container without a readiness probe is ready once started.
func (w *podWorker) startProbes(c *container, t target) {
	ctx, cancel := context.WithCancel(context.Background())
	c.stopProbes = cancel
	inc := c.incarnation
	started := c.started
	spec := c.spec
	if spec.StartupProbe != nil {
		go w.probeLoop(ctx, c, t, inc, "startup", spec.StartupProbe, nil)
	} else {
		close(started)
	}
	if spec.ReadinessProbe != nil {
		go w.probeLoop(ctx, c, t, inc, "readiness", spec.ReadinessProbe, started)
	} else {
		go func() {
			select {
			case <-started:
				w.send(event{c: c, incarnation: inc, kind: becameReady})
			case <-ctx.Done():
			}
		}()
	}
	if spec.LivenessProbe != nil {
		go w.probeLoop(ctx, c, t, inc, "liveness", spec.LivenessProbe, started)
	}
}

// probeLoop probes every period and reports when the result crosses its threshold.
func (w *podWorker) probeLoop(ctx context.Context, c *container, t target, inc int, kind string, p *corev1.Probe, after <-chan struct{}) {
	if after != nil {
		select {
		case <-after:
		case <-ctx.Done():
			return
		}
	}
	if !sleep(ctx, time.Duration(p.InitialDelaySeconds)*time.Second) {
		return
	}
	period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	successes, failures := 0, 0
	ready := false
	for {
		err := runProbe(ctx, c.spec, t, p.ProbeHandler, timeout)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			successes, failures = successes+1, 0
		} else {
			successes, failures = 0, failures+1
			w.log.V(1).Info("probe failed", "container", c.spec.Name, "probe", kind, "err", err)
		}
		switch {
		case kind == "startup" && err == nil:
			w.send(event{c: c, incarnation: inc, kind: startupSucceeded})
			return
		case kind != "readiness" && failures >= int(max(p.FailureThreshold, 1)):
			w.send(event{c: c, incarnation: inc, kind: unhealthy, msg: fmt.Sprintf("%s: %v", kind, err)})
			return
		case kind == "readiness" && !ready && successes >= int(max(p.SuccessThreshold, 1)):
			ready = true
			w.send(event{c: c, incarnation: inc, kind: becameReady})
		case kind == "readiness" && ready && failures >= int(max(p.FailureThreshold, 1)):
			ready = false
			w.send(event{c: c, incarnation: inc, kind: becameUnready})
		}
		if !sleep(ctx, period) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func runProbe(ctx context.Context, spec corev1.Container, t target, h corev1.ProbeHandler, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case h.HTTPGet != nil:
		return httpGet(ctx, spec, t, h.HTTPGet)
	case h.TCPSocket != nil:
		return tcpSocket(ctx, spec, t, h.TCPSocket)
	case h.Exec != nil:
		return execIn(ctx, t, h.Exec.Command)
	case h.GRPC != nil:
		return grpcHealth(ctx, t, h.GRPC)
	}
	return fmt.Errorf("probe has no handler")
}

// preStop runs c's preStop hook, bounded by the grace period, before SIGTERM.
func (w *podWorker) preStop(c *container, grace time.Duration) {
	if c.spec.Lifecycle == nil || c.spec.Lifecycle.PreStop == nil {
		return
	}
	t := c.target
	h := c.spec.Lifecycle.PreStop
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var err error
	switch {
	case h.Exec != nil:
		err = execIn(ctx, t, h.Exec.Command)
	case h.HTTPGet != nil:
		err = httpGet(ctx, c.spec, t, h.HTTPGet)
	case h.Sleep != nil:
		sleep(ctx, time.Duration(h.Sleep.Seconds)*time.Second)
	}
	if err != nil {
		w.log.Info("preStop hook failed", "container", c.spec.Name, "err", err)
	}
}

func port(spec corev1.Container, p intstr.IntOrString) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range spec.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("container %s has no port named %q", spec.Name, p.StrVal)
}

func (t target) host(host string) string {
	if host != "" {
		return host
	}
	return t.podIP
}

var probeClient = &http.Client{Transport: &http.Transport{
	TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // the kubelet does not verify probe targets either
	DisableKeepAlives: true,
}}

func httpGet(ctx context.Context, spec corev1.Container, t target, a *corev1.HTTPGetAction) error {
	port, err := port(spec, a.Port)
	if err != nil {
		return err
	}
	scheme := "http"
	if a.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(t.host(a.Host), strconv.Itoa(port)), Path: a.Path}
	if parsed, err := url.Parse(a.Path); err == nil {
		u.Path, u.RawQuery = parsed.Path, parsed.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kube-probe/1.34")
	for _, h := range a.HTTPHeaders {
		req.Header.Set(h.Name, h.Value)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("GET %s: HTTP %d", u.String(), resp.StatusCode)
	}
	return nil
}

func tcpSocket(ctx context.Context, spec corev1.Container, t target, a *corev1.TCPSocketAction) error {
	port, err := port(spec, a.Port)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(t.host(a.Host), strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return conn.Close()
}

func grpcHealth(ctx context.Context, t target, a *corev1.GRPCAction) error {
	conn, err := grpc.NewClient(net.JoinHostPort(t.podIP, strconv.Itoa(int(a.Port))),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	service := ""
	if a.Service != nil {
		service = *a.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return err
	}
	if resp.Status != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("grpc health: %s", resp.Status)
	}
	return nil
}

// exec runs command in the container's namespaces, mounts and environment, as `kubectl exec`
// or an exec probe would.
func execIn(ctx context.Context, t target, command []string) error {
	args := append(append(append([]string{}, t.launch...), "--"), command...)
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Env = t.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %w: %s", command, err, out)
	}
	return nil
}
