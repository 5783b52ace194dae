// Package cmu evaluates the scoring package on fixed-text keystroke data in the layout of
// the public CMU benchmark (Killourhy and Maxion 2009, DSL-StrongPasswordData): it reads
// the CSV, generates synthetic data in the same layout, runs the benchmark's protocol
// through the same template-set code the engine uses, and computes equal-error rates
// and DET curves.
//
// Protocol, per subject: the first 200 repetitions (in session, repetition order) enroll
// a template set; the next 200 are genuine attempts; the first 5 repetitions of every
// other subject are impostor attempts. The equal-error rate is computed per subject;
// the benchmark's figure is its mean (and standard deviation) over subjects. The best
// detector of the original study, scaled Manhattan, reached a mean of 0.096 on the real
// data.
package cmu
