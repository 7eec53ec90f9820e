package kubelet

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func running(name string, ready bool) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Ready: ready,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func terminatedWith(name string, code int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}
}

func backingOff(name string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, RestartCount: 1,
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}
}

func TestPhase(t *testing.T) {
	cases := []struct {
		name   string
		view   podView
		policy corev1.RestartPolicy
		want   corev1.PodPhase
	}{
		{"no sandbox", podView{}, corev1.RestartPolicyAlways, corev1.PodPending},
		{"init running", podView{SandboxReady: true, Init: []corev1.ContainerStatus{running("i", false)},
			Main: []corev1.ContainerStatus{{Name: "m"}}}, corev1.RestartPolicyAlways, corev1.PodPending},
		{"init failed, never", podView{SandboxReady: true, Init: []corev1.ContainerStatus{terminatedWith("i", 2)}},
			corev1.RestartPolicyNever, corev1.PodFailed},
		{"running", podView{SandboxReady: true, Init: []corev1.ContainerStatus{terminatedWith("i", 0)},
			Main: []corev1.ContainerStatus{running("m", false)}}, corev1.RestartPolicyAlways, corev1.PodRunning},
		{"restarting", podView{SandboxReady: true, Main: []corev1.ContainerStatus{backingOff("m")}},
			corev1.RestartPolicyAlways, corev1.PodRunning},
		{"succeeded", podView{SandboxReady: true, Main: []corev1.ContainerStatus{terminatedWith("a", 0), terminatedWith("b", 0)}},
			corev1.RestartPolicyNever, corev1.PodSucceeded},
		{"failed", podView{SandboxReady: true, Main: []corev1.ContainerStatus{terminatedWith("a", 0), terminatedWith("b", 3)}},
			corev1.RestartPolicyNever, corev1.PodFailed},
		{"one still running", podView{SandboxReady: true, Main: []corev1.ContainerStatus{terminatedWith("a", 0), running("b", true)}},
			corev1.RestartPolicyNever, corev1.PodRunning},
	}
	for _, c := range cases {
		if got := c.view.Phase(c.policy); got != c.want {
			t.Errorf("%s: phase %s, want %s", c.name, got, c.want)
		}
	}
}

func conditionStatus(st corev1.PodStatus, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func TestReadyNeedsEveryContainerReadyAndKeepsOthersConditions(t *testing.T) {
	pod := &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}}}
	view := podView{SandboxReady: true, PodIP: "10.250.1.2",
		Main: []corev1.ContainerStatus{running("a", true), running("b", false)}}
	st := view.Status(pod)
	if conditionStatus(st, corev1.PodReady) != corev1.ConditionFalse || conditionStatus(st, corev1.PodScheduled) != corev1.ConditionTrue {
		t.Fatalf("conditions %+v", st.Conditions)
	}
	view.Main[1].Ready = true
	st = view.Status(pod)
	if conditionStatus(st, corev1.PodReady) != corev1.ConditionTrue || st.PodIPs[0].IP != "10.250.1.2" {
		t.Fatalf("status %+v", st)
	}
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/gate"}}
	if conditionStatus(view.Status(pod), corev1.PodReady) != corev1.ConditionFalse {
		t.Fatal("ready despite an unmet readiness gate")
	}
}
