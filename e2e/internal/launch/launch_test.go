package launch

import "testing"

func TestMountFlagRoundTrips(t *testing.T) {
	for _, m := range []Mount{{Source: "/a", Target: "/b"}, {Source: "/a", Target: "/b", ReadOnly: true}} {
		got, err := ParseMount(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMount(%q) = %+v, %v", m.String(), got, err)
		}
	}
	for _, bad := range []string{"/a", "/a:/b:rw", "/a:/b:ro:x"} {
		if _, err := ParseMount(bad); err == nil {
			t.Errorf("ParseMount(%q) accepted", bad)
		}
	}
}
