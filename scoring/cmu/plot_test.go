package cmu

import (
	"bytes"
	"errors"
	"image/png"
	"testing"
)

func TestWriteDETPNG(t *testing.T) {
	far := DETGrid(30)
	a, b := make([]float64, len(far)), make([]float64, len(far))
	for i := range far {
		a[i] = 0.5 * (1 - far[i])
		b[i] = 0.2 * (1 - far[i])
	}
	var buf bytes.Buffer
	err := WriteDETPNG(&buf, "DET", far, []PlotCurve{
		{Label: "A", FRR: a, Color: ColorEngine}, {Label: "B", FRR: b, Color: ColorBaseline},
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() < 400 || img.Bounds().Dy() < 400 {
		t.Fatalf("size %v", img.Bounds())
	}
	count := map[[3]uint32]int{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			count[[3]uint32{r >> 8, g >> 8, b >> 8}]++
		}
	}
	for _, c := range []PlotCurve{{Color: ColorEngine}, {Color: ColorBaseline}} {
		if n := count[[3]uint32{uint32(c.Color.R), uint32(c.Color.G), uint32(c.Color.B)}]; n < 200 {
			t.Errorf("curve colour %v drawn on %d pixels", c.Color, n)
		}
	}
	if err := WriteDETPNG(&buf, "x", far, []PlotCurve{{FRR: a[:3]}}); !errors.Is(err, ErrValue) {
		t.Fatalf("mismatched curve: %v", err)
	}
}
