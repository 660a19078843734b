//go:build linux && cgo

package engine

// The static V8 in tommie/v8go was built against glibc 2.38, which renamed
// the strto*/scanf family to __isoc23_* (C23 semantics for "0b" prefixes).
// Debian 12 ships glibc 2.36; forwarding the new names to the old functions
// lets V8 link there. V8 never parses binary literals through these calls,
// so the semantic difference does not matter.

/*
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <gnu/libc-version.h>

__attribute__((weak)) long __isoc23_strtol(const char *s, char **end, int base) { return strtol(s, end, base); }
__attribute__((weak)) unsigned long __isoc23_strtoul(const char *s, char **end, int base) { return strtoul(s, end, base); }
__attribute__((weak)) long long __isoc23_strtoll(const char *s, char **end, int base) { return strtoll(s, end, base); }
__attribute__((weak)) unsigned long long __isoc23_strtoull(const char *s, char **end, int base) { return strtoull(s, end, base); }
__attribute__((weak)) int __isoc23_sscanf(const char *s, const char *fmt, ...) {
	va_list ap; va_start(ap, fmt); int n = vsscanf(s, fmt, ap); va_end(ap); return n;
}
__attribute__((weak)) int __isoc23_fscanf(FILE *f, const char *fmt, ...) {
	va_list ap; va_start(ap, fmt); int n = vfscanf(f, fmt, ap); va_end(ap); return n;
}
*/
import "C"
