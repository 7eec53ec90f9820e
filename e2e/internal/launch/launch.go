// Package launch is the last step of starting a container, run inside the pod's network and
// mount namespaces (entered by `ip netns exec`): it gives the process the pod's hostname in a
// UTS namespace of its own, bind-mounts the pod's volumes at their mount paths, and execs the
// program, which keeps this process id.
package launch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// Mount is a bind mount of a host path at a path the program sees.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// String is the flag form, `SOURCE:TARGET[:ro]`.
func (m Mount) String() string {
	s := m.Source + ":" + m.Target
	if m.ReadOnly {
		s += ":ro"
	}
	return s
}

// ParseMount reads the flag form.
func ParseMount(s string) (Mount, error) {
	parts := strings.Split(s, ":")
	switch {
	case len(parts) == 2:
		return Mount{Source: parts[0], Target: parts[1]}, nil
	case len(parts) == 3 && parts[2] == "ro":
		return Mount{Source: parts[0], Target: parts[1], ReadOnly: true}, nil
	}
	return Mount{}, fmt.Errorf("mount %q: want SOURCE:TARGET[:ro]", s)
}

// Spec is what the launcher does before exec.
type Spec struct {
	Hostname string
	Mounts   []Mount
	WorkDir  string
	Argv     []string
}

// Exec sets the process up and replaces it with the program; it returns only on failure.
func Exec(spec Spec) error {
	// Namespaces changed by unshare belong to this thread; exec keeps this thread's.
	runtime.LockOSThread()
	if err := syscall.Unshare(syscall.CLONE_NEWUTS); err != nil {
		return fmt.Errorf("unshare uts namespace: %w", err)
	}
	if err := syscall.Sethostname([]byte(spec.Hostname)); err != nil {
		return fmt.Errorf("set hostname %q: %w", spec.Hostname, err)
	}
	for _, m := range spec.Mounts {
		if err := bind(m); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(spec.WorkDir, 0o755); err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	if err := os.Chdir(spec.WorkDir); err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	path, err := exec.LookPath(spec.Argv[0])
	if err != nil {
		return fmt.Errorf("program %q: %w", spec.Argv[0], err)
	}
	return fmt.Errorf("exec %s: %w", path, syscall.Exec(path, spec.Argv, os.Environ()))
}

// bind mounts m.Source at m.Target, creating the target (a directory or an empty file, like
// the source) if missing. The mount is private to the pod's mount namespace; the empty target
// stays on the host.
func bind(m Mount) error {
	info, err := os.Stat(m.Source)
	if err != nil {
		return fmt.Errorf("volume source: %w", err)
	}
	if err := ensureTarget(m.Target, info.IsDir()); err != nil {
		return fmt.Errorf("mount target %s: %w", m.Target, err)
	}
	if err := syscall.Mount(m.Source, m.Target, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s at %s: %w", m.Source, m.Target, err)
	}
	if m.ReadOnly {
		flags := uintptr(syscall.MS_BIND | syscall.MS_REMOUNT | syscall.MS_RDONLY)
		if err := syscall.Mount("", m.Target, "", flags, ""); err != nil {
			return fmt.Errorf("remount %s read-only: %w", m.Target, err)
		}
	}
	return nil
}

func ensureTarget(path string, dir bool) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if dir {
		return os.MkdirAll(path, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}
