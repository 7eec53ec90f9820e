package kubelet

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubernetes/pkg/util/pod"
	"k8s.io/utils/ptr"

	"grape.io/e2e/internal/hosts"
	"grape.io/e2e/internal/netns"
)

// shutdownGrace bounds how long the harness waits for a pod's processes when it stops.
const shutdownGrace = 3 * time.Second

// podWorker owns one pod from its binding to its final deletion. A single goroutine (run)
// makes every decision; container processes and probes report to it through events.
type podWorker struct {
	k   *Kubelet
	uid types.UID
	log logr.Logger

	mu       sync.Mutex
	latest   *corev1.Pod
	updates  chan struct{}
	gone     chan struct{}
	goneOnce sync.Once

	// Owned by run.
	pod      *corev1.Pod
	dir      string
	slot     int
	sandbox  *netns.Sandbox
	volumes  map[string]string // volume name → host directory
	env      map[string]string // variables every container gets
	view     podView
	init     []*container
	main     []*container
	finished bool
	events   chan event
	done     chan struct{} // closed when run returns, so reporters stop sending
}

func newPodWorker(k *Kubelet, p *corev1.Pod) *podWorker {
	w := &podWorker{
		k: k, uid: p.UID, log: k.log.WithValues("pod", p.Namespace+"/"+p.Name),
		updates: make(chan struct{}, 1), gone: make(chan struct{}), events: make(chan event, 16),
		done: make(chan struct{}),
		pod:  p, dir: k.podDir(p),
	}
	w.view.HostIP = k.cfg.Net.Gateway().String()
	w.view.StartTime = metav1.NewTime(time.Now().Truncate(time.Second))
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			w.main = append(w.main, newContainer(c, false)) // a sidecar runs beside the main containers
		} else {
			w.init = append(w.init, newContainer(c, true))
		}
	}
	for _, c := range p.Spec.Containers {
		w.main = append(w.main, newContainer(c, false))
	}
	return w
}

// update hands the worker the pod's latest state.
func (w *podWorker) update(p *corev1.Pod) {
	w.mu.Lock()
	w.latest = p
	w.mu.Unlock()
	select {
	case w.updates <- struct{}{}:
	default:
	}
}

// forget stops the pod at once: it is gone from the API server, or the node is shutting down.
func (w *podWorker) forget() { w.goneOnce.Do(func() { close(w.gone) }) }

func (w *podWorker) run(ctx context.Context) {
	defer w.teardown()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-w.gone:
			w.stopAll(shutdownGrace)
			return
		case <-w.updates:
			w.mu.Lock()
			w.pod = w.latest
			w.mu.Unlock()
		case ev := <-w.events:
			w.handle(ev)
		case <-tick.C:
		}
		if w.pod.DeletionTimestamp != nil {
			w.terminate(ctx)
			return
		}
		w.sync(ctx)
		w.report(ctx)
	}
}

// sync moves the pod forward: sandbox, then init containers one by one, then the rest.
func (w *podWorker) sync(ctx context.Context) {
	if w.finished {
		return
	}
	if w.sandbox == nil {
		if err := w.setup(ctx); err != nil {
			w.view.Reason, w.view.Message = "ContainerCreating", err.Error()
			w.log.V(1).Info("sandbox not ready", "err", err)
			return
		}
		w.view.Reason, w.view.Message = "", ""
	}
	for _, c := range w.init {
		if c.succeeded() {
			continue
		}
		if c.proc == nil && !c.final && c.due() {
			w.start(c)
		}
		if c.final {
			w.finish() // an init container failed under restartPolicy Never
		}
		return
	}
	allFinal := len(w.main) > 0
	for _, c := range w.main {
		if c.proc == nil && !c.final && c.due() {
			w.start(c)
		}
		allFinal = allFinal && c.final
	}
	if allFinal {
		w.finish()
	}
}

// finish retires a pod whose containers have all terminated for good: its sandbox goes, its
// status stays.
func (w *podWorker) finish() {
	w.finished = true
	w.removeSandbox()
}

func (w *podWorker) handle(ev event) {
	c := ev.c
	if ev.incarnation != c.incarnation {
		return // from a process or probe of an earlier run of the container
	}
	switch ev.kind {
	case exited:
		c.exited(ev.exitCode, w.restarts(c, ev.exitCode))
	case becameReady:
		c.status.Ready = c.proc != nil
	case becameUnready:
		c.status.Ready = false
	case startupSucceeded:
		c.status.Started = ptr.To(true)
		c.markStarted()
	case unhealthy:
		w.log.Info("container failed its probe, restarting", "container", c.spec.Name, "probe", ev.msg)
		grace := time.Duration(ptr.Deref(w.pod.Spec.TerminationGracePeriodSeconds, 30)) * time.Second
		go c.proc.Stop(grace)
	}
}

// restarts says whether container c is restarted after exiting with code.
func (w *podWorker) restarts(c *container, code int) bool {
	if c.init && code == 0 {
		return false
	}
	switch w.pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return code != 0
	}
	return true
}

// report sends the pod's status to the API server when it changed.
func (w *podWorker) report(ctx context.Context) {
	w.view.Init = statuses(w.init)
	w.view.Main = statuses(w.main)
	next := w.view.Status(w.pod)
	updated, _, unchanged, err := pod.PatchPodStatus(ctx, w.k.node, w.pod.Namespace, w.pod.Name, w.uid, w.pod.Status, next)
	switch {
	case err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err):
		w.log.Error(err, "patch pod status")
	case err == nil && !unchanged:
		w.pod = updated
	}
}

// terminate runs the pod's graceful deletion: SIGTERM to every container, SIGKILL after the
// grace period, then the final delete that removes the pod from the API server.
func (w *podWorker) terminate(ctx context.Context) {
	grace := time.Duration(ptr.Deref(w.pod.DeletionGracePeriodSeconds, 30)) * time.Second
	w.stopAll(grace)
	w.report(ctx)
	w.removeSandbox()
	err := w.k.node.CoreV1().Pods(w.pod.Namespace).Delete(ctx, w.pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To(int64(0)),
		Preconditions:      &metav1.Preconditions{UID: &w.uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		w.log.Error(err, "delete pod")
	}
}

// stopAll stops every running container at once, each within grace, and records how they
// ended.
func (w *podWorker) stopAll(grace time.Duration) {
	var wg sync.WaitGroup
	for _, c := range append(append([]*container{}, w.init...), w.main...) {
		if c.proc == nil {
			continue
		}
		wg.Add(1)
		go func(c *container) {
			defer wg.Done()
			// The hook's time counts against the grace period, as in Kubernetes.
			deadline := time.Now().Add(grace)
			w.preStop(c, grace)
			c.proc.Stop(max(time.Until(deadline), 0))
		}(c)
	}
	wg.Wait()
	for _, c := range append(append([]*container{}, w.init...), w.main...) {
		if c.proc != nil {
			<-c.proc.Done()
			c.exited(c.proc.ExitCode(), false)
		}
	}
	w.drainEvents()
}

func (w *podWorker) drainEvents() {
	for {
		select {
		case <-w.events:
		default:
			return
		}
	}
}

func (w *podWorker) teardown() {
	close(w.done)
	w.removeSandbox()
	_ = os.RemoveAll(w.dir)
}

func (w *podWorker) removeSandbox() {
	if w.sandbox == nil {
		return
	}
	w.k.dns.remove(w.uid)
	if err := w.sandbox.Remove(); err != nil {
		w.log.Error(err, "remove sandbox")
	}
	w.k.slots.free(w.slot)
	w.sandbox = nil
	w.view.SandboxReady = false
}

// ownNames are the names the kubelet writes for the pod itself at the top of its hosts file.
func ownNames(p *corev1.Pod, ip string) []hosts.Record {
	hostname := p.Name
	if p.Spec.Hostname != "" {
		hostname = p.Spec.Hostname
	}
	records := []hosts.Record{}
	if p.Spec.Subdomain != "" {
		records = append(records, hosts.Record{FQDN: hostname + "." + hosts.ServiceFQDN(p.Spec.Subdomain, p.Namespace), IP: ip})
	}
	return append(records, hosts.Record{FQDN: hostname, IP: ip})
}

func podHostname(p *corev1.Pod) string {
	if p.Spec.Hostname != "" {
		return p.Spec.Hostname
	}
	return p.Name
}
