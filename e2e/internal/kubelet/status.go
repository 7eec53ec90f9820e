package kubelet

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podView is what the kubelet knows about a pod, from which its API status follows.
type podView struct {
	SandboxReady bool
	PodIP        string
	HostIP       string
	StartTime    metav1.Time
	Init         []corev1.ContainerStatus
	Main         []corev1.ContainerStatus
	// Reason and Message explain a pod that cannot start yet (e.g. an unbound claim).
	Reason, Message string
}

// Phase follows the kubelet's rules: Pending until the sandbox is up and init containers have
// succeeded; Succeeded or Failed once every container has terminated for good; otherwise
// Running. A container waiting in back-off to restart keeps the pod Running.
func (v podView) Phase(policy corev1.RestartPolicy) corev1.PodPhase {
	if !v.SandboxReady {
		return corev1.PodPending
	}
	for _, c := range v.Init {
		if t := c.State.Terminated; t != nil && t.ExitCode != 0 && policy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
		if t := c.State.Terminated; t == nil || t.ExitCode != 0 {
			return corev1.PodPending
		}
	}
	running, done, failed := 0, 0, 0
	for _, c := range v.Main {
		switch {
		case c.State.Running != nil:
			running++
		case c.State.Terminated != nil:
			done++
			if c.State.Terminated.ExitCode != 0 {
				failed++
			}
		case c.LastTerminationState.Terminated != nil:
			running++ // restarting
		}
	}
	switch {
	case len(v.Main) > 0 && done == len(v.Main) && failed > 0:
		return corev1.PodFailed
	case len(v.Main) > 0 && done == len(v.Main):
		return corev1.PodSucceeded
	case running > 0 || done > 0:
		return corev1.PodRunning
	}
	return corev1.PodPending
}

// Status is the pod status to report; prev keeps transition times of unchanged conditions and
// conditions other components own (PodScheduled, readiness gates).
func (v podView) Status(pod *corev1.Pod) corev1.PodStatus {
	prev := pod.Status
	phase := v.Phase(pod.Spec.RestartPolicy)
	initialized := true
	for _, c := range v.Init {
		if t := c.State.Terminated; t == nil || t.ExitCode != 0 {
			initialized = false
		}
	}
	containersReady := v.SandboxReady && initialized && len(v.Main) > 0
	for _, c := range v.Main {
		containersReady = containersReady && c.Ready
	}
	ready := containersReady && phase == corev1.PodRunning && gatesPass(pod)

	st := corev1.PodStatus{
		Phase:                 phase,
		Reason:                v.Reason,
		Message:               v.Message,
		HostIP:                v.HostIP,
		PodIP:                 v.PodIP,
		StartTime:             &v.StartTime,
		QOSClass:              prev.QOSClass,
		InitContainerStatuses: v.Init,
		ContainerStatuses:     v.Main,
	}
	if v.HostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: v.HostIP}}
	}
	if v.PodIP != "" {
		st.PodIPs = []corev1.PodIP{{IP: v.PodIP}}
	}
	ours := map[corev1.PodConditionType]bool{}
	for _, c := range []struct {
		t  corev1.PodConditionType
		ok bool
	}{
		{corev1.PodReadyToStartContainers, v.SandboxReady},
		{corev1.PodInitialized, initialized},
		{corev1.ContainersReady, containersReady},
		{corev1.PodReady, ready},
	} {
		ours[c.t] = true
		st.Conditions = append(st.Conditions, condition(prev.Conditions, c.t, c.ok))
	}
	for _, c := range prev.Conditions {
		if !ours[c.Type] {
			st.Conditions = append(st.Conditions, c)
		}
	}
	return st
}

func condition(prev []corev1.PodCondition, t corev1.PodConditionType, ok bool) corev1.PodCondition {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	for _, c := range prev {
		if c.Type == t && c.Status == status {
			return c
		}
	}
	return corev1.PodCondition{Type: t, Status: status, LastTransitionTime: metav1.Now()}
}

// gatesPass is true when every readiness gate's condition, set by some other component, is True.
func gatesPass(pod *corev1.Pod) bool {
	for _, g := range pod.Spec.ReadinessGates {
		ok := false
		for _, c := range pod.Status.Conditions {
			if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
