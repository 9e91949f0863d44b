package loadgen

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProcStats is what a process has used so far.
type ProcStats struct {
	CPU time.Duration // user + system, every thread
	// RSS and PeakRSS (the kernel's high-water mark) in bytes. RSS is
	// RSSAnon (the heap and stacks) plus RSSFile (mapped files: the
	// binary, and the SQLite file's pages read through mmap, which the
	// kernel can drop at will).
	RSS, PeakRSS     int64
	RSSAnon, RSSFile int64
}

// clockTicks is USER_HZ, which Linux fixes at 100 for /proc.
const clockTicks = 100

// ReadProc reads a live process's stats from /proc (Linux).
func ReadProc(pid int) (ProcStats, error) {
	var st ProcStats
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// The command name (field 2) may hold spaces; fields count from after it.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return st, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return st, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	st.CPU = time.Duration(utime+stime) * time.Second / clockTicks

	status, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	defer status.Close()
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			st.RSS = parseKB(v)
		} else if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			st.PeakRSS = parseKB(v)
		} else if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			st.RSSAnon = parseKB(v)
		} else if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			st.RSSFile = parseKB(v)
		}
	}
	return st, sc.Err()
}

func parseKB(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
	return n << 10
}
