package crl

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Run the speed and memory measurements with
//
//	go test ./crl -run '^$' -bench . -benchtime 3x
//
// BenchmarkBuild1M, BenchmarkStream1M and BenchmarkStdlib1M time one CRL of
// a million entries each; BenchmarkPeakMemory runs each encoder in a child process and reports
// its peak resident memory.

const (
	benchN = 1_000_000
	mib    = 1 << 20
)

// benchEntry returns entry i of the benchmark CRL: a 20-byte random serial
// (half of them with the top bit set, which needs a pad), revoked within the
// last year, and a reason for half of them. It writes the serial into
// serial, so that a stream of entries can reuse one big.Int.
func benchEntry(rng *mrand.Rand, serial *big.Int, this time.Time) Entry {
	var b [20]byte
	for j := 0; j < len(b); j += 8 {
		v := rng.Uint64()
		for k := j; k < min(j+8, len(b)); k++ {
			b[k] = byte(v)
			v >>= 8
		}
	}
	b[0] |= 0x01 // keep the length at 20 bytes
	reason := ReasonUnspecified
	if v := rng.IntN(4); v > 1 {
		reason = []int{ReasonKeyCompromise, ReasonSuperseded}[v-2]
	}
	return Entry{
		Serial:    serial.SetBytes(b[:]),
		RevokedAt: this.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))),
		Reason:    reason,
	}
}

var benchSet = sync.OnceValue(func() []Entry {
	this := time.Date(2025, 6, 1, 10, 24, 36, 0, time.UTC)
	rng := mrand.New(mrand.NewPCG(1, 1))
	entries := make([]Entry, benchN)
	for i := range entries {
		entries[i] = benchEntry(rng, new(big.Int), this)
	}
	return entries
})

func benchParams(b *testing.B) Params {
	iss, key := testIssuer(b, p256)
	p := testParams(iss, key)
	p.ThisUpdate = time.Date(2025, 6, 1, 10, 24, 36, 0, time.UTC)
	p.NextUpdate = p.ThisUpdate.Add(24*time.Hour + 600*time.Second)
	return p
}

// BenchmarkBuild1M times Anchor's encoder on a million entries, signed with
// P-256.
func BenchmarkBuild1M(b *testing.B) {
	p := benchParams(b)
	entries := benchSet()
	b.ReportAllocs()
	var der []byte
	cpu := processCPU()
	for b.Loop() {
		var err error
		if der, err = Build(p, entries); err != nil {
			b.Fatal(err)
		}
	}
	reportBuild(b, processCPU()-cpu, der)
}

// BenchmarkStream1M times the encoder the way the store feeds it: rows
// (here pointer-free arrays, which the garbage collector need not scan)
// decoded one at a time into one reused big.Int.
func BenchmarkStream1M(b *testing.B) {
	p := benchParams(b)
	type row struct {
		serial  [20]byte
		revoked int64
		reason  int
	}
	rows := make([]row, benchN)
	for i, e := range benchSet() {
		e.Serial.FillBytes(rows[i].serial[:])
		rows[i].revoked, rows[i].reason = e.RevokedAt.Unix(), e.Reason
	}
	b.ReportAllocs()
	var der []byte
	cpu := processCPU()
	for b.Loop() {
		bld, err := NewBuilder(p, len(rows))
		if err != nil {
			b.Fatal(err)
		}
		serial := new(big.Int)
		for i := range rows {
			r := &rows[i]
			e := Entry{Serial: serial.SetBytes(r.serial[:]),
				RevokedAt: time.Unix(r.revoked, 0), Reason: r.reason}
			if err := bld.Add(e); err != nil {
				b.Fatal(err)
			}
		}
		if der, err = bld.Finish(); err != nil {
			b.Fatal(err)
		}
	}
	reportBuild(b, processCPU()-cpu, der)
}

// BenchmarkStdlib1M times x509.CreateRevocationList on the same entries. The
// template is built outside the timed loop, to the standard library's
// advantage.
func BenchmarkStdlib1M(b *testing.B) {
	p := benchParams(b)
	tmpl := stdlibTemplate(p, benchSet())
	b.ReportAllocs()
	var der []byte
	cpu := processCPU()
	for b.Loop() {
		var err error
		if der, err = x509.CreateRevocationList(rand.Reader, tmpl, p.Issuer, p.Signer); err != nil {
			b.Fatal(err)
		}
	}
	reportBuild(b, processCPU()-cpu, der)
}

// reportBuild reports the speed in entries per second of wall time, the
// process CPU time per CRL (all threads, the garbage collector's included;
// steadier than wall time on a shared machine) and the size of the CRL.
func reportBuild(b *testing.B, cpu time.Duration, der []byte) {
	b.ReportMetric(float64(benchN)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(len(der)), "crl-bytes")
}

func stdlibTemplate(p Params, entries []Entry) *x509.RevocationList {
	tmpl := &x509.RevocationList{
		Number:                    p.Number,
		ThisUpdate:                p.ThisUpdate,
		NextUpdate:                p.NextUpdate,
		RevokedCertificateEntries: make([]x509.RevocationListEntry, len(entries)),
	}
	for i, e := range entries {
		tmpl.RevokedCertificateEntries[i] = x509.RevocationListEntry{
			SerialNumber: e.Serial, RevocationTime: e.RevokedAt, ReasonCode: e.Reason,
		}
	}
	return tmpl
}

// BenchmarkAdd times the encoding of one entry.
func BenchmarkAdd(b *testing.B) {
	p := benchParams(b)
	entries := benchSet()
	bld, err := NewBuilder(p, benchN)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(entries) {
			if bld, err = NewBuilder(p, benchN); err != nil {
				b.Fatal(err)
			}
			i = 0
		}
		if err := bld.Add(entries[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// The peak memory measurement runs in a child process (this test binary,
// running TestPeakMemoryChild), so that the kernel's high-water mark of the
// resident set (VmHWM) belongs to one build alone.
const peakModeEnv = "ANCHOR_CRL_PEAK_MODE"

// Modes of the child:
//
//   - anchor-stream: entries come one at a time, reusing one big.Int, as
//     when they stream from the store; the peak is the encoder's own.
//   - anchor-slice: all entries are in memory first, then Build.
//   - stdlib: all entries are in memory first, then CreateRevocationList.
var peakModes = []string{"anchor-stream", "anchor-slice", "stdlib"}

// BenchmarkPeakMemory reports, for each mode, the peak resident memory of
// the child (peak-MiB), the growth of the resident set during the build over
// what the process held before it (build-MiB), and the bytes the build
// allocated (alloc-MiB).
func BenchmarkPeakMemory(b *testing.B) {
	for _, mode := range peakModes {
		b.Run(mode, func(b *testing.B) {
			var m map[string]float64
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestPeakMemoryChild$",
					"-test.count=1")
				cmd.Env = append(os.Environ(), peakModeEnv+"="+mode)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("child: %v\n%s", err, out)
				}
				if m, err = parsePeak(out); err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
			}
			for _, k := range []string{"peak-MiB", "build-MiB", "alloc-MiB", "crl-bytes"} {
				b.ReportMetric(m[k], k)
			}
		})
	}
}

func parsePeak(out []byte) (map[string]float64, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "PEAK ")
		if !ok {
			continue
		}
		m := map[string]float64{}
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("bad field %q", f)
			}
			m[k] = x
		}
		return m, nil
	}
	return nil, fmt.Errorf("no PEAK line in the child's output")
}

// TestPeakMemoryChild is the child of BenchmarkPeakMemory; it does nothing
// unless ANCHOR_CRL_PEAK_MODE is set.
func TestPeakMemoryChild(t *testing.T) {
	mode := os.Getenv(peakModeEnv)
	if mode == "" {
		t.Skip("run by BenchmarkPeakMemory")
	}
	iss, key := testIssuer(t, p256)
	p := testParams(iss, key)
	p.ThisUpdate = time.Date(2025, 6, 1, 10, 24, 36, 0, time.UTC)
	var slice []Entry
	var tmpl *x509.RevocationList
	switch mode {
	case "anchor-slice":
		slice = benchSet()
	case "stdlib":
		tmpl = stdlibTemplate(p, benchSet())
	}
	runtime.GC()
	before := procStatus(t, "VmRSS")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	alloc0 := ms.TotalAlloc

	var der []byte
	var err error
	switch mode {
	case "anchor-stream":
		var bld *Builder
		if bld, err = NewBuilder(p, benchN); err != nil {
			t.Fatal(err)
		}
		rng := mrand.New(mrand.NewPCG(1, 1))
		serial := new(big.Int)
		for range benchN {
			if err := bld.Add(benchEntry(rng, serial, p.ThisUpdate)); err != nil {
				t.Fatal(err)
			}
		}
		der, err = bld.Finish()
	case "anchor-slice":
		der, err = Build(p, slice)
	case "stdlib":
		der, err = x509.CreateRevocationList(rand.Reader, tmpl, p.Issuer, p.Signer)
	default:
		t.Fatalf("unknown mode %q (want one of %v)", mode, peakModes)
	}
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms)
	hwm := procStatus(t, "VmHWM")
	fmt.Printf("PEAK peak-MiB=%.1f build-MiB=%.1f alloc-MiB=%.1f crl-bytes=%d\n",
		hwm/mib, (hwm-before)/mib, float64(ms.TotalAlloc-alloc0)/mib, len(der))
	runtime.KeepAlive(slice)
	runtime.KeepAlive(tmpl)
}

// procStatus returns a "kB" field of /proc/self/status in bytes.
func procStatus(t *testing.T, field string) float64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatalf("peak memory needs /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				t.Fatalf("%s: %v", field, err)
			}
			return kb * 1024 // the kernel's kB are KiB
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
