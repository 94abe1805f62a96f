// Package benchmarks measures accrue against its baselines in the same run.
// See README.md beside this file for the commands and the figures.
package benchmarks
