// Package faults injects broker faults into an in-process kfake cluster,
// for tests of what Eddy does when the broker misbehaves.
package faults
