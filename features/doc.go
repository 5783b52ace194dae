// Package features turns raw behavioral events into fixed-layout float32 vectors.
//
// Four modalities are covered, each with a pure function over a complete sample and an
// incremental accumulator that a session actor feeds event by event:
//
//   - fixed-text keystrokes (one typed entry of a field): FixedText, KeystrokeAccumulator;
//   - free-text keystroke statistics: FreeText, FreeTextAccumulator;
//   - pointer and touch runs: Pointer, PointerAccumulator;
//   - motion sensor windows: MotionFeatures, MotionAccumulator.
//
// All times are milliseconds. Key codes are opaque 64-bit values (the SDK hashes them); this
// package compares them for equality and hashes their order, it never interprets them.
//
// The hot path (Append/KeyDown/KeyUp per event, Flush per sample) does not allocate: the
// accumulators own fixed-capacity buffers that are reused, and errors are returned as bare
// sentinels (wrapping would allocate). Nothing here is safe for concurrent use; an accumulator
// belongs to one actor.
package features
