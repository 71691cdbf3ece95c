//go:build linux

package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// These fuzz the two readings of /proc that fuzz_test.go leaves out: the count of nghttpd's
// connections in /proc/net/tcp, which is the upstream-connections column of the nghttpd runs,
// and the CPU model in /proc/cpuinfo, which heads the report. Each is seeded with lines read
// from a Linux 6.x machine (only loopback and wildcard addresses kept) and with the shapes
// that break line readers: a line past bufio.Scanner's 64 KiB, CRLF, NUL, non-UTF-8, truncated
// lines, missing fields. Each is checked against a slow reference reading of the format, and
// against a helper that writes the text the way the kernel does.
//
// Run one with: go test ./integration/bench -run XXX -fuzz '^FuzzCountEstablished$' -fuzztime 45s

// Lines of /proc/net/tcp as captured, the kernel's padding kept: the header, a listener on
// every address, one on 127.0.0.1, both sides of an established loopback connection (port
// 0x521F accepted it from 0x9750), and a socket in TIME_WAIT.
const (
	tcpHeader      = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     \n"
	tcpListenAny   = "   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1666 1 000000009c6bab4b 100 0 0 10 0                      \n"
	tcpListenLo    = "   1: 0100007F:5308 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 18377053 1 000000000cb1e6cb 100 0 0 10 0                  \n"
	tcpServerSide  = " 120: 0100007F:521F 0100007F:9750 01 00000000:00000000 02:000005A6 00000000     0        0 18377218 2 00000000f4346abc 20 4 29 14 -1                 \n"
	tcpClientSide  = "20709: 0100007F:9750 0100007F:521F 01 00000000:00000000 02:000005A2 00000000     0        0 18378256 2 0000000073cf4bac 20 4 27 13 -1                 \n"
	tcpTimeWait    = " 115: 0100007F:A82D 0100007F:86C6 06 00000000:00000000 03:00001152 00000000     0        0 0 3 00000000d8638155                                      \n"
	tcpCaptured    = tcpHeader + tcpListenAny + tcpListenLo + tcpTimeWait + tcpServerSide + tcpClientSide
	tcpCapturedEnd = 0x521F // the port that accepted the captured connection
)

// tcpLine writes one socket's line of /proc/net/tcp as the kernel does (net/ipv4/tcp_ipv4.c,
// get_tcp4_sock: "%4d: %08X:%04X %08X:%04X %02X ...", padded to 149 columns), for a socket
// from 127.0.0.1:local to 127.0.0.1:remote in state st (01 ESTABLISHED, 06 TIME_WAIT, 0A LISTEN).
func tcpLine(sl int, local, remote uint16, st uint8) string {
	line := fmt.Sprintf("%4d: 0100007F:%04X 0100007F:%04X %02X 00000000:00000000 02:000005A6 00000000 %5d %8d %d 2 00000000f4346abc 20 4 29 14 -1",
		sl, local, remote, st, 0, 0, 18377218)
	return fmt.Sprintf("%-149s\n", line)
}

// establishedReference is countEstablished's contract, read slowly: the lines (split at LF)
// whose second field, the local address, ends in a colon and the port as four upper-case hex
// digits, and whose fourth, the state, is 01 (TCP_ESTABLISHED).
func establishedReference(text string, port uint16) int64 {
	var n int64
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] != "01" {
			continue
		}
		i := strings.LastIndexByte(f[1], ':')
		if i < 0 {
			continue
		}
		hex := f[1][i+1:]
		if p, err := strconv.ParseUint(hex, 16, 16); err == nil && len(hex) == 4 && strings.ToUpper(hex) == hex && uint16(p) == port {
			n++
		}
	}
	return n
}

// FuzzCountEstablished: the count is never negative, never more than the text has lines, and
// is the reference's, whatever comes before (a long line must not end the reading early). A
// connection written by tcpLine, both its sides, adds one when it is established and the
// server's side is on the port, and two only when both ends use the port; a socket in another
// state, or whose remote end alone is on the port, adds nothing.
func FuzzCountEstablished(f *testing.F) {
	for _, seed := range []struct {
		text       string
		port, peer uint16
		st         uint8
	}{
		{tcpCaptured, tcpCapturedEnd, 0x9750, 0x01},
		{tcpCaptured, 0x9750, tcpCapturedEnd, 0x06},
		{tcpCaptured, 0x5308, 0xC700, 0x0A},
		{tcpHeader, 0x07E8, 0x07E8, 0x01},
		{"", 0, 0, 0x01},
		{strings.ReplaceAll(tcpCaptured, "\n", "\r\n"), tcpCapturedEnd, 1, 0x01},
		{tcpServerSide[:30], tcpCapturedEnd, 1, 0x01},                            // truncated before the state
		{strings.TrimSuffix(tcpServerSide, "\n"), tcpCapturedEnd, 0xFFFF, 0x01},  // no final newline
		{"   0: 0100007F:521f 0100007F:9750 01\n", tcpCapturedEnd, 2, 0x01},      // lower-case hex
		{"   0: 0100007F:0521F 0100007F:9750 01\n", tcpCapturedEnd, 2, 0x01},     // five digits
		{"   0: 0100007F:521F:521F 0100007F:9750 01\n", tcpCapturedEnd, 2, 0x01}, // two colons
		{"   0: :521F x 01\n   1: 521F x 01\n", tcpCapturedEnd, 3, 0x01},
		{"   0: 0100007F:521F 0100007F:9750 1\n   1: 0100007F:521F 0100007F:9750 001\n", tcpCapturedEnd, 3, 0x01},
		{"   0:\t0100007F:521F\t0100007F:9750\t01\n", tcpCapturedEnd, 4, 0x01},
		{"   0: 0100007F:521F\x000100007F:9750 01\n", tcpCapturedEnd, 4, 0xFF},
		{"   0: 0100007F:521F 0100007F:9750 \xff01\n", tcpCapturedEnd, 4, 0x01},
		// A tcp6 line, 127.0.0.1 mapped; not in /proc/net/tcp.
		{"   0: 0000000000000000FFFF00000100007F:521F 0000000000000000FFFF00000100007F:9750 01\n", tcpCapturedEnd, 5, 0x01},
		// Past a 64 KiB line: a bufio.Scanner counted 0 here, and 1 in the next, not 1 and 2.
		{longLine + "\n" + tcpServerSide, tcpCapturedEnd, 6, 0x01},
		{tcpServerSide + longLine + "\n" + tcpServerSide, tcpCapturedEnd, 7, 0x01},
	} {
		f.Add(seed.text, seed.port, seed.peer, seed.st)
	}
	f.Fuzz(func(t *testing.T, text string, port, peer uint16, st uint8) {
		got := countEstablished(text, int(port))
		if got < 0 || got > int64(strings.Count(text, "\n")+1) {
			t.Errorf("countEstablished(%.200q, %#x) = %d, out of range", text, port, got)
		}
		if want := establishedReference(text, port); got != want {
			t.Errorf("countEstablished(%.200q, %#x) = %d, want %d", text, port, got, want)
		}

		if text != "" && !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		more := text + tcpLine(7, port, peer, st) + tcpLine(8, peer, port, st)
		want := establishedReference(text, port)
		if st == 0x01 {
			want++
			if peer == port {
				want++
			}
		}
		if got := countEstablished(more, int(port)); got != want {
			t.Errorf("with a connection %#x <- %#x in state %02X: counted %d, want %d", port, peer, st, got, want)
		}
	})
}

// A processor's block of /proc/cpuinfo as captured on an x86-64 virtual machine, the flags
// shortened, and an arm64 one, in the format of arch/arm64/kernel/cpuinfo.c: no model name.
const (
	cpuinfoX86 = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 207\n" +
		"model name\t: Intel(R) Xeon(R) Processor\nstepping\t: 2\nmicrocode\t: 0x1\ncpu MHz\t\t: 2100.000\n" +
		"cache size\t: 307200 KB\nphysical id\t: 0\nsiblings\t: 2\ncore id\t\t: 0\ncpu cores\t: 2\n" +
		"apicid\t\t: 0\ninitial apicid\t: 0\nfpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: 32\nwp\t\t: yes\n" +
		"flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht syscall nx pdpe1gb rdtscp lm constant_tsc\n" +
		"bugs\t\t: spectre_v1 spectre_v2 spec_store_bypass swapgs taa eibrs_pbrsb bhi ibpb_no_ret spectre_v2_user\n" +
		"bogomips\t: 4200.00\nclflush size\t: 64\ncache_alignment\t: 64\naddress sizes\t: 46 bits physical, 57 bits virtual\n" +
		"power management:\n\n"
	cpuinfoArm64 = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics cpuid\n" +
		"CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n"
)

// cpuinfoText writes /proc/cpuinfo for two processors with the given model name, as x86's
// show_cpuinfo does (arch/x86/kernel/cpu/proc.c: "model name\t: %s\n", "unknown" for none).
func cpuinfoText(model string) string {
	if model == "" {
		model = "unknown"
	}
	block := strings.Replace(cpuinfoX86, "Intel(R) Xeon(R) Processor", model, 1)
	return block + strings.Replace(block, "processor\t: 0", "processor\t: 1", 1)
}

// cpuModelReference is cpuModel's contract, read slowly: the value after the first colon of
// the first line (split at LF) whose key, trimmed of white space, is "model name", with every
// run of white space (Unicode's, as strings.Fields has it) made one space and none at either end.
func cpuModelReference(text string) string {
	for _, line := range strings.Split(text, "\n") {
		i := strings.IndexByte(line, ':')
		if i < 0 || strings.TrimFunc(line[:i], unicode.IsSpace) != "model name" {
			continue
		}
		var b strings.Builder
		space := false
		for v := line[i+1:]; v != ""; {
			r, size := utf8.DecodeRuneInString(v)
			if unicode.IsSpace(r) {
				space = true
			} else {
				if space && b.Len() > 0 {
					b.WriteByte(' ')
				}
				space = false
				b.WriteString(v[:size])
			}
			v = v[size:]
		}
		return b.String()
	}
	return ""
}

// FuzzCPUModel: the model is the reference's, whatever comes before it (a long flags line
// must not end the reading early), and is already in normal form: no white space at either
// end, none but single spaces within. Text that cpuinfoText writes, followed by anything,
// gives back its model name in that form (the first processor's, not a later line's).
func FuzzCPUModel(f *testing.F) {
	for _, seed := range []struct{ text, model string }{
		{cpuinfoX86, "Intel(R) Xeon(R) Processor"},
		{cpuinfoX86 + cpuinfoX86, "Intel(R) Core(TM)2 Duo CPU     T7700  @ 2.40GHz"},
		{cpuinfoArm64, "AMD EPYC 7B13 64-Core Processor"},
		{"", ""},
		{"model name\t:\n", "  leading and trailing\t"},
		{"model name: a: b\n", "a: b"},
		{"model name\n", "x"},
		{"Model Name\t: x\nmodel  name\t: y\n model name \t: z\n", "z"},
		{"model name\t: a\r\nmodel name\t: b\r\n", "c\r"},
		{"model name\t: a\x00b\xff\xfe\u00a0c\u0085d\n", "\x00\xff\u2003"},
		{strings.ReplaceAll(cpuinfoX86, "\n", "\r\n"), "\u00a0"},
		{cpuinfoX86[:strings.Index(cpuinfoX86, "model name")+14], "Intel"}, // truncated mid-value
		// Past a 64 KiB line before the model: a bufio.Scanner read no model.
		{longLine + "\n" + cpuinfoX86, "x"},
		{strings.Replace(cpuinfoX86, "fpu vme", longLine, 1), "x"}, // the long line after the model
	} {
		f.Add(seed.text, seed.model)
	}
	f.Fuzz(func(t *testing.T, text, model string) {
		got := cpuModel(text)
		if want := cpuModelReference(text); got != want {
			t.Errorf("cpuModel(%.200q) = %q, want %q", text, got, want)
		}
		if got != strings.Join(strings.Fields(got), " ") {
			t.Errorf("cpuModel(%.200q) = %q, not in normal form", text, got)
		}

		if strings.Contains(model, "\n") {
			return // a model name is one line
		}
		want := strings.Join(strings.Fields(model), " ")
		if model == "" {
			want = "unknown"
		}
		if got := cpuModel(cpuinfoText(model) + text); got != want {
			t.Errorf("model name %q, followed by %.200q: got %q, want %q", model, text, got, want)
		}
	})
}
