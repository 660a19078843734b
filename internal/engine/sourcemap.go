package engine

import (
	"encoding/base64"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/go-sourcemap/sourcemap"
)

// Source maps: a bundle built from modules carries its map inline, at its
// end (internal/bundle), so that positions in stack traces and errors can
// name the user's own files and lines instead of the bundle's. The map is
// parsed on the first error that needs it, not at load.

// inlineMapPrefix starts the comment esbuild writes for an inline map.
const inlineMapPrefix = "//# sourceMappingURL=data:application/json;base64,"

// positions finds the program's frames in a text: NAME:LINE:COLUMN.
type positions struct {
	once sync.Once
	re   *regexp.Regexp
	m    *sourcemap.Consumer // nil: the program has no usable map
}

func (p *Program) positions() *positions {
	p.pos.once.Do(func() {
		p.pos.re = regexp.MustCompile(regexp.QuoteMeta(p.Name) + `:(\d+):(\d+)`)
		i := strings.LastIndex(p.Source, inlineMapPrefix)
		if i < 0 {
			return
		}
		data := p.Source[i+len(inlineMapPrefix):]
		if j := strings.IndexAny(data, "\r\n"); j >= 0 {
			data = data[:j]
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data))
		if err != nil {
			return
		}
		p.pos.m = parseMap(raw)
	})
	return &p.pos
}

// parseMap parses a source map, or gives nil. The map comes with the
// user's bundle, so it may be anything: a panic in the parser on a crafted
// map must not reach the process (a deploy's check may run in the node).
func parseMap(raw []byte) (m *sourcemap.Consumer) {
	defer func() {
		if recover() != nil {
			m = nil
		}
	}()
	m, err := sourcemap.Parse("", raw)
	if err != nil {
		return nil
	}
	return m
}

// source looks a generated position up in m, as m.Source does, but
// without letting a panic on a crafted map escape.
func source(m *sourcemap.Consumer, line, col int) (file string, sline, scol int, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	file, _, sline, scol, ok = m.Source(line, col)
	return file, sline, scol, ok
}

// userText is text (a stack trace, a console line) as the user should
// see it: positions mapped to the source, and without the frames of
// natsfn's own code, which say nothing about the user's.
func (p *Program) userText(text string) string {
	text = p.mapPositions(text)
	if !strings.Contains(text, "natsfn:") {
		return text
	}
	lines := strings.Split(text, "\n")
	kept := lines[:0]
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "at ") && (strings.Contains(t, "(natsfn:") || strings.HasPrefix(t, "at natsfn:")) {
			continue
		}
		kept = append(kept, l)
	}
	return strings.Join(kept, "\n")
}

// mapPositions rewrites every NAME:LINE:COLUMN of the program in text to
// the source file, line and column it came from. Positions the map does
// not cover stay as they are.
func (p *Program) mapPositions(text string) string {
	if !strings.Contains(text, p.Name) {
		return text
	}
	pos := p.positions()
	if pos.m == nil {
		return text
	}
	return pos.re.ReplaceAllStringFunc(text, func(s string) string {
		sub := pos.re.FindStringSubmatch(s)
		line, _ := strconv.Atoi(sub[1])
		col, _ := strconv.Atoi(sub[2])
		// V8 counts columns from 1, source maps from 0.
		src, sline, scol, ok := source(pos.m, line, col-1)
		if !ok || src == "" {
			return s
		}
		return src + ":" + strconv.Itoa(sline) + ":" + strconv.Itoa(scol+1)
	})
}

// firstFrame is the first position of the program in a stack trace,
// mapped to its source: where an error thrown by built-in code (JSON.parse,
// say) was called from.
func (p *Program) firstFrame(stack string) string {
	loc := p.positions().re.FindString(stack)
	if loc == "" {
		return ""
	}
	return p.mapPositions(loc)
}
