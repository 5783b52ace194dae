package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressBar draws "label [#####.....] done/total elapsed, eta" on one line of a
// terminal (redrawn with a carriage return), or, when the output is not a terminal, one
// line each time another tenth is done.
type progressBar struct {
	w        io.Writer
	label    string
	terminal bool
	width    int
	start    time.Time
	now      func() time.Time
	lastTen  int
}

func newProgressBar(w io.Writer, label string, terminal bool) *progressBar {
	return &progressBar{w: w, label: label, terminal: terminal, width: 30, start: time.Now(), now: time.Now, lastTen: -1}
}

// update shows done of total.
func (p *progressBar) update(done, total int) {
	if total <= 0 {
		return
	}
	done = min(done, total)
	frac := float64(done) / float64(total)
	elapsed := p.now().Sub(p.start)
	eta := "?"
	if done > 0 {
		eta = (time.Duration(float64(elapsed)/frac) - elapsed).Round(time.Second).String()
	}
	filled := int(frac * float64(p.width))
	line := fmt.Sprintf("%s [%s%s] %d/%d %s, eta %s", p.label,
		strings.Repeat("#", filled), strings.Repeat(".", p.width-filled), done, total,
		elapsed.Round(100*time.Millisecond), eta)
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		if done == total {
			fmt.Fprintln(p.w)
		}
		return
	}
	if ten := done * 10 / total; ten != p.lastTen {
		p.lastTen = ten
		fmt.Fprintln(p.w, line)
	}
}
