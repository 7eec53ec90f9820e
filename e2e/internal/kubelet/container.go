package kubelet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"grape.io/e2e/internal/images"
	"grape.io/e2e/internal/launch"
	"grape.io/e2e/internal/proc"
)

// Restart back-off: shorter than a real kubelet's (10 s doubling to 5 min) so tests that crash
// a process see it back quickly, still growing so a crash loop does not spin.
const (
	backoffBase  = time.Second
	backoffMax   = 20 * time.Second
	backoffReset = time.Minute // a container that ran this long starts over from backoffBase
)

type eventKind int

const (
	exited eventKind = iota
	becameReady
	becameUnready
	startupSucceeded
	unhealthy
)

// event is a report from a container's process or one of its probes.
type event struct {
	c           *container
	incarnation int
	kind        eventKind
	exitCode    int
	msg         string
}

// container is one container of a pod and the process currently running it, if any.
type container struct {
	spec        corev1.Container
	init        bool
	status      corev1.ContainerStatus
	proc        *proc.Process
	incarnation int           // counts starts; events of earlier ones are stale
	final       bool          // terminated and not restarted
	nextStart   time.Time     // start no earlier (back-off)
	backoff     time.Duration // next back-off
	startedAt   time.Time
	stopProbes  context.CancelFunc
	started     chan struct{} // closed once the startup probe passed (or at start without one)
	target      target        // of the current process
}

func newContainer(spec corev1.Container, init bool) *container {
	return &container{spec: spec, init: init, backoff: backoffBase,
		status: corev1.ContainerStatus{Name: spec.Name, Image: spec.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}
}

func (c *container) succeeded() bool {
	t := c.status.State.Terminated
	return c.final && t != nil && t.ExitCode == 0
}

func (c *container) due() bool { return !time.Now().Before(c.nextStart) }

func (c *container) waiting(reason, msg string) {
	c.status.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	c.nextStart = time.Now().Add(c.backoff)
	c.backoff = min(2*c.backoff, backoffMax)
}

func (c *container) markStarted() {
	select {
	case <-c.started:
	default:
		close(c.started)
	}
}

// exited records the end of the current process; restart puts the container in back-off.
func (c *container) exited(code int, restart bool) {
	if c.stopProbes != nil {
		c.stopProbes()
	}
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	term := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: int32(code), Reason: reason, ContainerID: c.status.ContainerID,
		StartedAt:  metav1.NewTime(c.startedAt.Truncate(time.Second)),
		FinishedAt: metav1.NewTime(time.Now().Truncate(time.Second)),
	}}
	c.proc = nil
	c.status.Ready = false
	c.status.Started = ptr.To(false)
	if time.Since(c.startedAt) > backoffReset {
		c.backoff = backoffBase
	}
	if !restart {
		c.final = true
		c.status.State = term
		return
	}
	c.status.LastTerminationState = term
	c.waiting("CrashLoopBackOff", fmt.Sprintf("back-off %s restarting failed container %s", c.backoff, c.spec.Name))
}

// start runs a new process for c; failures to set it up leave it waiting, as image pull or
// configuration errors do.
func (w *podWorker) start(c *container) {
	binary, err := w.k.cfg.Images.Binary(c.spec.Image)
	if err != nil {
		c.waiting("ErrImagePull", err.Error())
		return
	}
	env, err := Env(w.podWithAddresses(), &c.spec, w.k, w.env)
	if err != nil {
		c.waiting("CreateContainerConfigError", err.Error())
		return
	}
	argv := images.Argv(binary, Expand(c.spec.Command, env), Expand(c.spec.Args, env))
	prefix, err := w.launchPrefix(c)
	if err != nil {
		c.waiting("CreateContainerError", err.Error())
		return
	}
	if c.incarnation > 0 {
		c.status.RestartCount++
	}
	logPath := filepath.Join(w.dir, "logs", fmt.Sprintf("%s.%d.log", c.spec.Name, c.status.RestartCount))
	logFile, err := openLog(logPath)
	if err != nil {
		c.waiting("CreateContainerError", err.Error())
		return
	}
	defer logFile.Close()
	args := append(append(append([]string{}, prefix...), "--"), argv...)
	p, err := proc.Start(proc.Spec{Name: c.spec.Name, Path: "ip", Args: args, Env: env, Log: logFile})
	if err != nil {
		c.waiting("StartError", err.Error())
		return
	}
	c.proc = p
	c.incarnation++
	c.startedAt = time.Now()
	c.started = make(chan struct{})
	c.status.ContainerID = fmt.Sprintf("process://%d", p.Pid())
	c.status.ImageID = "file://" + binary
	c.status.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{
		StartedAt: metav1.NewTime(c.startedAt.Truncate(time.Second))}}
	c.status.Started = ptr.To(c.spec.StartupProbe == nil)
	c.status.Ready = false
	w.log.Info("started container", "container", c.spec.Name, "pid", p.Pid(), "log", logPath)
	inc := c.incarnation
	go func() {
		<-p.Done()
		w.send(event{c: c, incarnation: inc, kind: exited, exitCode: p.ExitCode()})
	}()
	c.target = target{podIP: w.view.PodIP, launch: prefix, env: env}
	w.startProbes(c, c.target)
}

// podWithAddresses is the pod as the downward API sees it: the addresses are known here
// before the status that reports them reaches the API server.
func (w *podWorker) podWithAddresses() *corev1.Pod {
	p := w.pod.DeepCopy()
	p.Status.PodIP, p.Status.HostIP = w.view.PodIP, w.view.HostIP
	return p
}

func (w *podWorker) send(ev event) {
	select {
	case w.events <- ev:
	case <-w.done:
	}
}

// target is where a container's probes and hooks run, fixed for one run of its process.
type target struct {
	podIP  string
	launch []string // `ip` arguments up to the program's argv
	env    []string
}

// launchPrefix is the `ip` command line, up to `--`, that runs a program in the pod's
// namespaces with c's mounts.
func (w *podWorker) launchPrefix(c *container) ([]string, error) {
	mounts, err := w.mounts(c)
	if err != nil {
		return nil, err
	}
	workDir := c.spec.WorkingDir
	if workDir == "" {
		// An image's working directory is part of the image; here it is a directory of the
		// pod's own, so that relative paths stay out of the host's root.
		workDir = filepath.Join(w.dir, "containers", c.spec.Name)
	}
	args := append(w.sandbox.Exec()[1:], w.k.cfg.Launcher, "launch", "--hostname", podHostname(w.pod), "--workdir", workDir)
	for _, m := range mounts {
		args = append(args, "--mount", m.String())
	}
	return args, nil
}

// mounts are c's volume mounts as bind mounts of the pod's volume directories.
func (w *podWorker) mounts(c *container) ([]launch.Mount, error) {
	var out []launch.Mount
	for _, vm := range c.spec.VolumeMounts {
		src, ok := w.volumes[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volume mount %q: no such volume", vm.Name)
		}
		if vm.SubPath != "" {
			src = filepath.Join(src, vm.SubPath)
			if _, err := os.Stat(src); os.IsNotExist(err) {
				if err := os.MkdirAll(src, 0o777); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, launch.Mount{Source: src, Target: vm.MountPath, ReadOnly: vm.ReadOnly})
	}
	return out, nil
}

func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

func statuses(cs []*container) []corev1.ContainerStatus {
	out := make([]corev1.ContainerStatus, 0, len(cs))
	for _, c := range cs {
		out = append(out, *c.status.DeepCopy())
	}
	return out
}
