package cmu

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
)

// PlotCurve is one DET curve to draw: FRR at each FAR of the shared grid.
type PlotCurve struct {
	Label string
	FRR   []float64
	Color color.RGBA
}

// Colors for the curves of WriteDETPNG.
var (
	ColorEngine   = color.RGBA{R: 0x1f, G: 0x5f, B: 0xbf, A: 0xff}
	ColorBaseline = color.RGBA{R: 0xe0, G: 0x7b, B: 0x10, A: 0xff}
)

// WriteDETPNG draws DET curves (FRR against FAR, both on the normal-deviate scale, from
// 0.1% to 60%) as a PNG: grid lines with their percentages, the equal-error diagonal,
// each curve, a legend and axis titles.
func WriteDETPNG(w io.Writer, title string, far []float64, curves []PlotCurve) error {
	const (
		width, height            = 720, 620
		left, right, top, bottom = 80, 30, 50, 70
		plotW, plotH             = width - left - right, height - top - bottom
		lo, hi                   = 0.001, 0.6
	)
	for _, c := range curves {
		if len(c.FRR) != len(far) {
			return fmt.Errorf("plot %q: %d FRR values for %d FAR values: %w", c.Label, len(c.FRR), len(far), ErrValue)
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fill(img, img.Bounds(), color.RGBA{0xff, 0xff, 0xff, 0xff})
	pLo, pHi := Probit(lo), Probit(hi)
	toX := func(p float64) float64 {
		p = math.Max(lo, math.Min(hi, p))
		return float64(left) + (Probit(p)-pLo)/(pHi-pLo)*float64(plotW)
	}
	toY := func(p float64) float64 {
		p = math.Max(lo, math.Min(hi, p))
		return float64(top+plotH) - (Probit(p)-pLo)/(pHi-pLo)*float64(plotH)
	}
	grid := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	ink := color.RGBA{0x20, 0x20, 0x20, 0xff}
	ticks := []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6}
	for _, t := range ticks {
		x, y := int(math.Round(toX(t))), int(math.Round(toY(t)))
		fill(img, image.Rect(x, top, x+1, top+plotH), grid)
		fill(img, image.Rect(left, y, left+plotW, y+1), grid)
		label := trimPercent(t * 100)
		drawText(img, x-textWidth(label, 1)/2, top+plotH+8, label, ink, 1, false)
		drawText(img, left-8-textWidth(label, 1), y-3, label, ink, 1, false)
	}
	// Equal-error diagonal, dashed.
	for i := 0; i < plotW; i += 6 {
		x := left + i
		y := top + plotH - i*plotH/plotW
		fill(img, image.Rect(x, y, x+3, y+1), color.RGBA{0x99, 0x99, 0x99, 0xff})
	}
	// Frame.
	fill(img, image.Rect(left, top, left+plotW, top+1), ink)
	fill(img, image.Rect(left, top+plotH, left+plotW+1, top+plotH+1), ink)
	fill(img, image.Rect(left, top, left+1, top+plotH), ink)
	fill(img, image.Rect(left+plotW, top, left+plotW+1, top+plotH), ink)

	clip := image.Rect(left, top, left+plotW+1, top+plotH+1)
	for _, c := range curves {
		for i := 1; i < len(far); i++ {
			line(img, clip, toX(far[i-1]), toY(c.FRR[i-1]), toX(far[i]), toY(c.FRR[i]), c.Color)
		}
	}
	// Legend, top right inside the plot.
	ly := top + 12
	for _, c := range curves {
		lx := left + plotW - 16 - textWidth(c.Label, 2) - 30
		fill(img, image.Rect(lx, ly+6, lx+22, ly+9), c.Color)
		drawText(img, lx+30, ly, c.Label, ink, 2, false)
		ly += 24
	}
	drawText(img, left+(plotW-textWidth(title, 2))/2, 16, title, ink, 2, false)
	xt := "FALSE ACCEPT RATE (%)"
	drawText(img, left+(plotW-textWidth(xt, 2))/2, height-30, xt, ink, 2, false)
	yt := "FALSE REJECT RATE (%)"
	drawText(img, 14, top+(plotH+textWidth(yt, 2))/2, yt, ink, 2, true)
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	return nil
}

func trimPercent(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// line draws a 2-pixel-wide segment, clipped to clip, by stepping along its longer axis.
func line(img *image.RGBA, clip image.Rectangle, x0, y0, x1, y1 float64, c color.RGBA) {
	steps := int(math.Max(math.Abs(x1-x0), math.Abs(y1-y0))) + 1
	for i := 0; i <= steps; i++ {
		f := float64(i) / float64(steps)
		x := int(math.Round(x0 + f*(x1-x0)))
		y := int(math.Round(y0 + f*(y1-y0)))
		for _, p := range [4]image.Point{{x, y}, {x + 1, y}, {x, y + 1}, {x + 1, y + 1}} {
			if p.In(clip) {
				img.SetRGBA(p.X, p.Y, c)
			}
		}
	}
}
