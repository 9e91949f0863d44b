// Package procstat reads what the process has used, for benchmarks that
// report CPU time and memory rather than wall time alone: on a shared
// 2-core machine wall time depends on the neighbours, CPU time much less,
// and it counts the garbage collector's work on other cores too.
package procstat // import "github.com/opperotel/bridge/internal/procstat"
