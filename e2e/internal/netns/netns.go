// Package netns gives every pod its own network namespace, joined by a veth pair to a bridge
// that belongs to one harness instance. The bridge address is the node's address: pods reach
// the API server there, and the host reaches pods at their own addresses.
//
// Several harnesses may run on one machine at once (parallel tests, several users): each takes
// an instance number with an exclusive lock held for its lifetime, and every name and address
// it creates is derived from that number, so a later harness can tell leftovers of a dead
// instance from a live one and clean them up.
package netns

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const (
	lockDir      = "/run/grape-harness"
	maxInstances = 200
	netnsEtc     = "/etc/netns"
)

// Instance is one harness's share of the machine's networking.
type Instance struct {
	N    int
	lock *os.File
}

// Acquire takes the lowest free instance number and removes whatever a dead harness left
// under it.
func Acquire() (*Instance, error) {
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", lockDir, err)
	}
	for n := 1; n <= maxInstances; n++ {
		f, err := os.OpenFile(filepath.Join(lockDir, strconv.Itoa(n)+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		inst := &Instance{N: n, lock: f}
		if err := inst.Cleanup(); err != nil {
			inst.Release()
			return nil, err
		}
		return inst, nil
	}
	return nil, fmt.Errorf("all %d harness instances are in use", maxInstances)
}

// Lock takes instance n, failing when a live harness holds it.
func Lock(n int) (*Instance, error) {
	f, err := os.OpenFile(filepath.Join(lockDir, strconv.Itoa(n)+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("harness instance %d is still running", n)
	}
	return &Instance{N: n, lock: f}, nil
}

// Release gives the instance number back.
func (i *Instance) Release() { i.lock.Close() }

// Bridge is the name of the instance's bridge.
func (i *Instance) Bridge() string { return fmt.Sprintf("grape-br%d", i.N) }

// Gateway is the bridge's address: the node's InternalIP, where pods reach the API server.
func (i *Instance) Gateway() net.IP { return net.IPv4(10, 250, byte(i.N), 1).To4() }

// PodCIDR is the range pod addresses come from.
func (i *Instance) PodCIDR() string { return fmt.Sprintf("10.250.%d.0/24", i.N) }

// PodIP is the address of pod slot s (2..254).
func (i *Instance) PodIP(s int) net.IP { return net.IPv4(10, 250, byte(i.N), byte(s)).To4() }

func (i *Instance) prefix() string { return fmt.Sprintf("grape%d-", i.N) }

// Up creates the bridge.
func (i *Instance) Up() error {
	br := i.Bridge()
	return run(
		[]string{"link", "add", br, "type", "bridge"},
		[]string{"addr", "add", i.Gateway().String() + "/24", "dev", br},
		[]string{"link", "set", br, "up"},
	)
}

// Cleanup kills every process left in the instance's namespaces and removes the namespaces,
// their /etc/netns files and the bridge.
func (i *Instance) Cleanup() error {
	names, err := namespaces()
	if err != nil {
		return err
	}
	for _, name := range names {
		if strings.HasPrefix(name, i.prefix()) {
			if err := removeNamespace(name); err != nil {
				return err
			}
		}
	}
	if linkExists(i.Bridge()) {
		return run([]string{"link", "del", i.Bridge()})
	}
	return nil
}

// Sandbox is one pod's network namespace.
type Sandbox struct {
	Name string // the namespace, for `ip netns exec`
	IP   net.IP
}

// NewSandbox creates the namespace for slot s with its veth on the bridge and a default route
// to the gateway, and writes its hosts and resolv.conf files.
func (i *Instance) NewSandbox(s int, hosts, resolv []byte) (*Sandbox, error) {
	sb := &Sandbox{Name: fmt.Sprintf("%sp%d", i.prefix(), s), IP: i.PodIP(s)}
	veth := fmt.Sprintf("gr%dp%d", i.N, s)
	if err := sb.WriteHosts(hosts); err != nil {
		return nil, err
	}
	if err := WriteFileInPlace(filepath.Join(netnsEtc, sb.Name, "resolv.conf"), resolv); err != nil {
		return nil, err
	}
	_ = run([]string{"link", "del", veth}) // a leftover of a namespace that outlived its pod
	err := run(
		[]string{"netns", "add", sb.Name},
		[]string{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", sb.Name},
		[]string{"link", "set", veth, "master", i.Bridge(), "up"},
		[]string{"-n", sb.Name, "link", "set", "lo", "up"},
		[]string{"-n", sb.Name, "addr", "add", sb.IP.String() + "/24", "dev", "eth0"},
		[]string{"-n", sb.Name, "link", "set", "eth0", "up"},
		[]string{"-n", sb.Name, "route", "add", "default", "via", i.Gateway().String()},
	)
	if err != nil {
		_ = removeNamespace(sb.Name)
		return nil, err
	}
	return sb, nil
}

// WriteHosts replaces the pod's /etc/hosts. The file is rewritten in place: `ip netns exec`
// bind-mounts it, so a new inode would not be seen by running processes.
func (sb *Sandbox) WriteHosts(hosts []byte) error {
	return WriteFileInPlace(filepath.Join(netnsEtc, sb.Name, "hosts"), hosts)
}

// Remove kills what still runs in the namespace and deletes it.
func (sb *Sandbox) Remove() error { return removeNamespace(sb.Name) }

// Exec is the command prefix that runs a program inside the sandbox.
func (sb *Sandbox) Exec() []string { return []string{"ip", "netns", "exec", sb.Name} }

// WriteFileInPlace truncates and rewrites path (creating its directory), keeping its inode.
func WriteFileInPlace(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return os.WriteFile(path, data, 0o644)
}

func removeNamespace(name string) error {
	out, _ := exec.Command("ip", "netns", "pids", name).Output()
	for _, field := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(field); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if _, err := os.Stat(filepath.Join("/run/netns", name)); err == nil {
		if err := run([]string{"netns", "del", name}); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(filepath.Join(netnsEtc, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func namespaces() ([]string, error) {
	entries, err := os.ReadDir("/run/netns")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

func run(cmds ...[]string) error {
	for _, args := range cmds {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	return nil
}
