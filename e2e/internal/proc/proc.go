// Package proc starts and stops the harness's child processes. Each child leads its own process
// group, so stopping it reaches whatever it forked, and gets SIGKILL if the harness dies first,
// so a killed harness leaves no control plane behind.
package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is a running child and the channel that closes when it has exited.
type Process struct {
	Name   string
	cmd    *exec.Cmd
	done   chan struct{}
	result error
}

// Spec says what to run and where its output goes.
type Spec struct {
	Name string
	Path string
	Args []string
	Env  []string // nil inherits the harness's environment
	Dir  string
	Log  *os.File // stdout and stderr; nil discards
}

// Start runs the child in its own process group.
func Start(spec Spec) (*Process, error) {
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = spec.Env
	cmd.Dir = spec.Dir
	if spec.Log != nil {
		cmd.Stdout = spec.Log
		cmd.Stderr = spec.Log
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", spec.Name, spec.Path, err)
	}
	p := &Process{Name: spec.Name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.result = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process id (and process group id).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done closes when the child has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitCode is the child's exit status once Done is closed, 128+N when signal N killed it
// (as a container runtime reports it).
func (p *Process) ExitCode() int {
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return p.cmd.ProcessState.ExitCode()
}

// Err is the error Wait returned once Done is closed.
func (p *Process) Err() error { return p.result }

// Signal sends sig to the child's whole process group.
func (p *Process) Signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.Pid(), sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Stop sends SIGTERM, waits up to grace, then SIGKILLs the group and waits for the exit.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.Signal(syscall.SIGKILL)
		<-p.done
	}
	// Anything the child forked and left behind in its group goes too.
	_ = p.Signal(syscall.SIGKILL)
}
