// Package images maps container images to local programs: there is no registry and no
// container runtime, so an image stands for a binary built on this machine.
package images

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Map is image repository name → local binary.
type Map map[string]string

// Parse reads `NAME=PATH` entries (flags or file lines; blank lines and `#` comments skipped).
func (m Map) Parse(entry string) error {
	entry = strings.TrimSpace(entry)
	if entry == "" || strings.HasPrefix(entry, "#") {
		return nil
	}
	name, path, ok := strings.Cut(entry, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("image mapping %q: want NAME=PATH", entry)
	}
	m[strings.TrimSpace(name)] = strings.TrimSpace(path)
	return nil
}

// ParseFile reads one entry per line.
func (m Map) ParseFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if err := m.Parse(scanner.Text()); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return scanner.Err()
}

// Repository strips the tag and digest: `reg:5000/org/grape-node:1.2@sha256:…` →
// `reg:5000/org/grape-node`.
func Repository(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

// Binary finds the program for image: by its full repository name, else by its last path
// segment (`ghcr.io/org/grape-node:1.0` matches `grape-node`).
func (m Map) Binary(image string) (string, error) {
	repo := Repository(image)
	for _, key := range []string{repo, repo[strings.LastIndex(repo, "/")+1:]} {
		if path, ok := m[key]; ok {
			if _, err := os.Stat(path); err != nil {
				return "", fmt.Errorf("image %q maps to %s: %w", image, path, err)
			}
			return path, nil
		}
	}
	return "", fmt.Errorf("no local binary is mapped for image %q", image)
}

// Argv is what runs for a container of an image whose entrypoint is binary. As in a container,
// `command` replaces the entrypoint and `args` follow it; a command naming the image's own
// program (by path or name, e.g. `/usr/local/bin/grape-node`) runs the mapped binary, any other
// command (e.g. `sh -c …`) runs from this machine.
func Argv(binary string, command, args []string) []string {
	if len(command) == 0 {
		return append([]string{binary}, args...)
	}
	argv := append(append([]string{}, command...), args...)
	if filepath.Base(command[0]) == filepath.Base(binary) {
		argv[0] = binary
	}
	return argv
}
