package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"grape.io/e2e/internal/controlplane"
	"grape.io/e2e/internal/images"
	"grape.io/e2e/internal/kubelet"
	"grape.io/e2e/internal/netns"
)

type upOptions struct {
	dir, binDir, nodeName, version string
	images                         images.Map
}

// Info is DIR/harness.json, written once the cluster is ready.
type Info struct {
	Pid        int    `json:"pid"`
	Instance   int    `json:"instance"`
	Kubeconfig string `json:"kubeconfig"`
	Server     string `json:"server"`     // the API server, from the host
	PodServer  string `json:"pod_server"` // the API server, from pods
	NodeName   string `json:"node_name"`
	NodeIP     string `json:"node_ip"`
	PodCIDR    string `json:"pod_cidr"`
	StartupMS  int64  `json:"startup_ms"`
}

func up(o upOptions) error {
	began := time.Now()
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return err
	}
	for _, stale := range []string{"harness.json", "kubeconfig"} {
		_ = os.Remove(filepath.Join(dir, stale))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "harness.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	launcher, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	inst, err := netns.Acquire()
	if err != nil {
		return err
	}
	defer inst.Release()
	if err := os.WriteFile(filepath.Join(dir, "instance"), []byte(strconv.Itoa(inst.N)), 0o644); err != nil {
		return err
	}
	defer func() {
		if err := inst.Cleanup(); err != nil {
			klog.ErrorS(err, "clean up pod networking")
		}
	}()
	if err := inst.Up(); err != nil {
		return err
	}

	cp, err := controlplane.Start(ctx, controlplane.Config{
		BinDir: o.binDir, Dir: dir, NodeIP: inst.Gateway(), NodeName: o.nodeName,
	})
	if err != nil {
		return err
	}
	defer cp.Stop()
	admin, _, err := controlplane.Client(cp.AdminKubeconfig)
	if err != nil {
		return err
	}
	node, _, err := controlplane.Client(cp.NodeKubeconfig)
	if err != nil {
		return err
	}
	if err := bootstrap(ctx, admin); err != nil {
		return err
	}

	kl := kubelet.New(kubelet.Config{
		NodeName: o.nodeName, Version: o.version, Dir: dir, Net: inst, Images: o.images,
		APIServerPort: cp.Port, CACert: cp.CA, Launcher: launcher,
	}, node, admin, klog.Background().WithName("kubelet"))
	kubeletCtx, stopKubelet := context.WithCancel(context.Background())
	kubeletDone := make(chan error, 1)
	go func() { kubeletDone <- kl.Run(kubeletCtx) }()
	stopPods := func() {
		stopKubelet()
		if err := <-kubeletDone; err != nil {
			klog.ErrorS(err, "kubelet")
		}
	}
	if err := waitNodeReady(ctx, admin, o.nodeName, kubeletDone); err != nil {
		stopPods()
		return err
	}
	info := Info{
		Pid: os.Getpid(), Instance: inst.N, Kubeconfig: filepath.Join(dir, "kubeconfig"),
		Server:    fmt.Sprintf("https://127.0.0.1:%d", cp.Port),
		PodServer: fmt.Sprintf("https://%s:%d", inst.Gateway(), cp.Port),
		NodeName:  o.nodeName, NodeIP: inst.Gateway().String(), PodCIDR: inst.PodCIDR(),
		StartupMS: time.Since(began).Milliseconds(),
	}
	if err := publish(dir, cp.AdminKubeconfig, info); err != nil {
		stopPods()
		return err
	}
	klog.InfoS("cluster ready", "kubeconfig", info.Kubeconfig, "server", info.Server, "startup", time.Since(began).Round(time.Millisecond))

	var failure error
	select {
	case <-ctx.Done():
	case p := <-cp.Exited():
		failure = fmt.Errorf("%s exited: %v (log: %s)", p.Name, p.Err(), filepath.Join(dir, "logs", p.Name+".log"))
	case err := <-kubeletDone:
		kubeletDone <- err
		failure = fmt.Errorf("kubelet stopped: %v", err)
	}
	klog.InfoS("stopping cluster")
	_ = os.Remove(filepath.Join(dir, "harness.json"))
	stopPods()
	return failure
}

// bootstrap creates what a fresh cluster from a distribution has: a default StorageClass,
// and waits for the default ServiceAccount without which no pod is admitted.
func bootstrap(ctx context.Context, admin kubernetes.Interface) error {
	_, err := admin.StorageV1().StorageClasses().Create(ctx, kubelet.DefaultStorageClass(), metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create default storage class: %w", err)
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := admin.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

func waitNodeReady(ctx context.Context, admin kubernetes.Interface, name string, kubeletDone chan error) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-kubeletDone:
			kubeletDone <- err
			return false, fmt.Errorf("kubelet stopped: %v", err)
		default:
		}
		n, err := admin.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
}

// publish writes DIR/kubeconfig, then DIR/harness.json, whose appearance means ready.
func publish(dir, adminKubeconfig string, info Info) error {
	data, err := os.ReadFile(adminKubeconfig)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "kubeconfig"), data, 0o600); err != nil {
		return err
	}
	js, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "harness.json"), append(js, '\n'), 0o644)
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// down stops the harness that runs in dir and removes whatever it left behind.
func down(dir string) error {
	pidData, err := os.ReadFile(filepath.Join(dir, "harness.pid"))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no harness was started in %s", dir)
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidData)))
	if err != nil {
		return fmt.Errorf("%s/harness.pid: %w", dir, err)
	}
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(time.Minute)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			time.Sleep(500 * time.Millisecond)
		}
	}
	instData, err := os.ReadFile(filepath.Join(dir, "instance"))
	if err != nil {
		return nil // it never got as far as networking
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(instData)))
	if err != nil {
		return err
	}
	inst, err := netns.Lock(n)
	if err != nil {
		return nil // a new harness took the instance over and cleaned it already
	}
	defer inst.Release()
	return inst.Cleanup()
}

// alive is true while pid runs (a zombie counts as gone).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}
