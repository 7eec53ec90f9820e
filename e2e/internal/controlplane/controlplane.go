// Package controlplane runs a real Kubernetes control plane on one machine: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler, with generated certificates,
// service-account keys and RBAC, each on a free loopback port.
package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"grape.io/e2e/internal/pki"
	"grape.io/e2e/internal/proc"
)

// ServiceCIDR is the range cluster IPs come from. Nothing routes it: names of Services resolve
// to their endpoints instead (see package hosts).
const ServiceCIDR = "10.96.0.0/16"

// Config says where the binaries are and where the cluster lives.
type Config struct {
	BinDir string // kube-apiserver, kube-controller-manager, kube-scheduler, etcd
	Dir    string
	// NodeIP is the node's address, where pods reach the API server; the API server advertises
	// it and its certificate names it.
	NodeIP   net.IP
	NodeName string
}

// ControlPlane is a running control plane.
type ControlPlane struct {
	cfg   Config
	procs []*proc.Process // in start order
	// Port is the API server's port, on loopback and on the node address.
	Port int
	// CA is the cluster CA certificate, which pods and clients trust.
	CA []byte
	// AdminKubeconfig reaches the API server on loopback as cluster-admin.
	AdminKubeconfig string
	// NodeKubeconfig is the kubelet's identity, system:node:<NodeName>.
	NodeKubeconfig string
}

func (cp *ControlPlane) path(parts ...string) string {
	return filepath.Join(append([]string{cp.cfg.Dir}, parts...)...)
}

// Start brings the control plane up and waits until the API server is ready.
func Start(ctx context.Context, cfg Config) (*ControlPlane, error) {
	cp := &ControlPlane{cfg: cfg}
	for _, d := range []string{"pki", "logs", "etcd"} {
		if err := os.MkdirAll(cp.path(d), 0o700); err != nil {
			return nil, err
		}
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	cp.Port = ports[0]
	if err := cp.credentials(); err != nil {
		return nil, err
	}
	steps := []func(context.Context, []int) error{cp.startEtcd, cp.startAPIServer, cp.startControllers}
	for _, step := range steps {
		if err := step(ctx, ports); err != nil {
			cp.Stop()
			return nil, err
		}
	}
	return cp, nil
}

// Exited closes when any component exits: the cluster is broken then.
func (cp *ControlPlane) Exited() <-chan *proc.Process {
	out := make(chan *proc.Process, len(cp.procs))
	for _, p := range cp.procs {
		go func(p *proc.Process) {
			<-p.Done()
			out <- p
		}(p)
	}
	return out
}

// Stop stops the components in reverse start order.
func (cp *ControlPlane) Stop() {
	for i := len(cp.procs) - 1; i >= 0; i-- {
		cp.procs[i].Stop(5 * time.Second)
	}
	cp.procs = nil
}

func (cp *ControlPlane) credentials() error {
	ca, err := pki.NewCA("grape-harness-ca")
	if err != nil {
		return err
	}
	cp.CA = ca.CertPEM
	if err := pki.WriteFile(cp.path("pki", "ca.crt"), ca.CertPEM); err != nil {
		return err
	}
	if err := pki.WriteFile(cp.path("pki", "ca.key"), ca.KeyPEM); err != nil {
		return err
	}
	serviceIP := net.IPv4(10, 96, 0, 1)
	serving, err := ca.Serving("kube-apiserver",
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.IPv4(127, 0, 0, 1), cp.cfg.NodeIP, serviceIP})
	if err != nil {
		return err
	}
	if err := serving.Write(cp.path("pki"), "apiserver"); err != nil {
		return err
	}
	saKey, saPub, err := pki.ServiceAccountKeys()
	if err != nil {
		return err
	}
	if err := pki.WriteFile(cp.path("pki", "sa.key"), saKey); err != nil {
		return err
	}
	if err := pki.WriteFile(cp.path("pki", "sa.pub"), saPub); err != nil {
		return err
	}
	users := []struct {
		file, user string
		groups     []string
	}{
		{"admin", "kubernetes-admin", []string{"system:masters"}},
		{"controller-manager", "system:kube-controller-manager", nil},
		{"scheduler", "system:kube-scheduler", nil},
		{"node", "system:node:" + cp.cfg.NodeName, []string{"system:nodes"}},
	}
	for _, u := range users {
		kp, err := ca.Client(u.user, u.groups...)
		if err != nil {
			return err
		}
		if err := writeKubeconfig(cp.path(u.file+".kubeconfig"), fmt.Sprintf("https://127.0.0.1:%d", cp.Port), ca.CertPEM, kp); err != nil {
			return err
		}
	}
	cp.AdminKubeconfig = cp.path("admin.kubeconfig")
	cp.NodeKubeconfig = cp.path("node.kubeconfig")
	return nil
}

func writeKubeconfig(path, server string, ca []byte, kp *pki.KeyPair) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["grape-harness"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{ClientCertificateData: kp.CertPEM, ClientKeyData: kp.KeyPEM}
	cfg.Contexts["grape-harness"] = &clientcmdapi.Context{Cluster: "grape-harness", AuthInfo: "user"}
	cfg.CurrentContext = "grape-harness"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

func (cp *ControlPlane) start(name string, args ...string) (*proc.Process, error) {
	log, err := os.OpenFile(cp.path("logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	p, err := proc.Start(proc.Spec{Name: name, Path: filepath.Join(cp.cfg.BinDir, name), Args: args, Log: log})
	if err != nil {
		return nil, err
	}
	cp.procs = append(cp.procs, p)
	return p, nil
}

func (cp *ControlPlane) startEtcd(ctx context.Context, ports []int) error {
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[2])
	p, err := cp.start("etcd",
		"--name=harness",
		"--data-dir="+cp.path("etcd"),
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
		"--initial-cluster=harness="+peer,
		"--unsafe-no-fsync", // a test cluster's data need not survive a power cut
		"--log-level=warn",
	)
	if err != nil {
		return err
	}
	return waitHTTP(ctx, p, client+"/health", nil)
}

func (cp *ControlPlane) startAPIServer(ctx context.Context, ports []int) error {
	pkiDir := cp.path("pki")
	p, err := cp.start("kube-apiserver",
		"--etcd-servers="+fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		// All addresses: loopback for clients on the host, the node address for pods.
		"--bind-address=0.0.0.0",
		"--secure-port="+strconv.Itoa(cp.Port),
		"--advertise-address="+cp.cfg.NodeIP.String(),
		"--cert-dir="+pkiDir,
		"--tls-cert-file="+filepath.Join(pkiDir, "apiserver.crt"),
		"--tls-private-key-file="+filepath.Join(pkiDir, "apiserver.key"),
		"--client-ca-file="+filepath.Join(pkiDir, "ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+filepath.Join(pkiDir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(pkiDir, "sa.key"),
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--service-cluster-ip-range="+ServiceCIDR,
		"--allow-privileged=true",
		"--profiling=false",
		"--v=1",
	)
	if err != nil {
		return err
	}
	return waitHTTP(ctx, p, fmt.Sprintf("https://127.0.0.1:%d/readyz", cp.Port), cp.CA)
}

func (cp *ControlPlane) startControllers(ctx context.Context, ports []int) error {
	pkiDir := cp.path("pki")
	kcm := cp.path("controller-manager.kubeconfig")
	_, err := cp.start("kube-controller-manager",
		"--kubeconfig="+kcm, "--authentication-kubeconfig="+kcm, "--authorization-kubeconfig="+kcm,
		"--secure-port=0",
		"--leader-elect=false",
		// Each controller acts as its own service account, so RBAC applies to them too.
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+filepath.Join(pkiDir, "sa.key"),
		"--root-ca-file="+filepath.Join(pkiDir, "ca.crt"),
		"--cluster-signing-cert-file="+filepath.Join(pkiDir, "ca.crt"),
		"--cluster-signing-key-file="+filepath.Join(pkiDir, "ca.key"),
		"--controllers=*",
		"--v=1",
	)
	if err != nil {
		return err
	}
	sched := cp.path("scheduler.kubeconfig")
	_, err = cp.start("kube-scheduler",
		"--kubeconfig="+sched, "--authentication-kubeconfig="+sched, "--authorization-kubeconfig="+sched,
		"--secure-port=0",
		"--leader-elect=false",
		"--v=1",
	)
	return err
}

// Client is a clientset for a kubeconfig file.
func Client(kubeconfig string) (kubernetes.Interface, *rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	return cs, cfg, err
}

// waitHTTP polls url until it answers 200, the process exits, or a minute passes.
func waitHTTP(ctx context.Context, p *proc.Process, url string, ca []byte) error {
	tlsCfg := &tls.Config{}
	if ca != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		tlsCfg.RootCAs = pool
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	deadline := time.After(time.Minute)
	for {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited (%v) before it was ready; see its log", p.Name, p.Err())
		case <-deadline:
			return fmt.Errorf("%s not ready at %s after a minute", p.Name, url)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// freePorts reserves n distinct loopback ports by binding and releasing them.
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
