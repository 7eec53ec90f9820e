package kubelet

import (
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type fakeObjects struct {
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

func (f fakeObjects) ConfigMap(_, name string) (*corev1.ConfigMap, error) {
	if cm, ok := f.configMaps[name]; ok {
		return cm, nil
	}
	return nil, fmt.Errorf("configmap %s not found", name)
}

func (f fakeObjects) Secret(_, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("secret %s not found", name)
}

func ref(key, name string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}
}

func TestEnvResolvesDownwardAPIReferencesAndExpansionInOrder(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "grape-0", Namespace: "db", Labels: map[string]string{"app": "grape"}},
		Spec:       corev1.PodSpec{NodeName: "n1", ServiceAccountName: "grape"},
		Status:     corev1.PodStatus{PodIP: "10.250.1.2", HostIP: "10.250.1.1"},
	}
	objs := fakeObjects{
		configMaps: map[string]*corev1.ConfigMap{"cfg": {Data: map[string]string{"level": "debug", "A": "from-cm"}}},
		secrets:    map[string]*corev1.Secret{"key": {Data: map[string][]byte{"api": []byte("s3cret")}}},
	}
	c := &corev1.Container{
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		Env: []corev1.EnvVar{
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "URI", Value: "http://$(POD_NAME).grape:6335 $$(POD_NAME) $(UNSET)"},
			{Name: "LEVEL", ValueFrom: ref("level", "cfg")},
			{Name: "OPTIONAL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "x", Optional: ptrTo(true)}}},
			{Name: "API_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "key"}, Key: "api"}}},
		},
	}
	env, err := Env(pod, c, objs, map[string]string{"HOSTNAME": "grape-0"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"HOSTNAME=grape-0", "CM_A=from-cm", "CM_level=debug", "POD_NAME=grape-0", "POD_IP=10.250.1.2",
		"APP=grape", "URI=http://grape-0.grape:6335 $(POD_NAME) $(UNSET)", "LEVEL=debug",
		"API_KEY=s3cret", "PATH=" + basePath}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("env\n got %q\nwant %q", env, want)
	}
	if got := Expand([]string{"--uri=$(URI)", "$(POD_IP)"}, env); got[1] != "10.250.1.2" {
		t.Fatalf("expand %q", got)
	}
}

func TestEnvFailsOnAMissingRequiredReference(t *testing.T) {
	c := &corev1.Container{Env: []corev1.EnvVar{{Name: "X", ValueFrom: ref("nope", "cfg")}}}
	objs := fakeObjects{configMaps: map[string]*corev1.ConfigMap{"cfg": {}}}
	if _, err := Env(&corev1.Pod{}, c, objs, nil); err == nil {
		t.Fatal("a missing key was accepted")
	}
}

func TestResourceFieldRoundsUpAndDefaultsLimitsToNodeCapacity(t *testing.T) {
	c := &corev1.Container{Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")}}}
	cases := map[string]string{"requests.cpu": "1", "requests.memory": "67108864", "limits.cpu": "64"}
	for res, want := range cases {
		got, err := resourceField(c, &corev1.ResourceFieldSelector{Resource: res})
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", res, got, err, want)
		}
	}
	got, _ := resourceField(c, &corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")})
	if got != "250" {
		t.Errorf("requests.cpu in millicores = %q", got)
	}
}

func ptrTo[T any](v T) *T { return &v }
