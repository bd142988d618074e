// Package broker will hold Eddy's embedded development broker. For now it
// holds only the regression tests for the group coordinator of the patched
// in-process Kafka broker it builds on (third_party/kfake).
package broker
