package runtime

import (
	"github.com/eddy-streams/eddy/config"
	"github.com/eddy-streams/eddy/internal/group"
	"github.com/eddy-streams/eddy/modes"
)

// Config holds the settings of a worker and of the tools: package config
// documents each, its default, YAML key, EDDY_* variable and flag. Zero
// fields of a Config given to App.Run take their defaults.
type Config = config.Config

// DefaultConfig returns the settings used where neither the config file,
// the environment nor a flag says otherwise; appName is the default group
// and client id. It is config.Default.
func DefaultConfig(appName string) Config { return config.Default(appName) }

// modePolicy is the mode policy the settings describe.
func modePolicy(c Config) modes.Policy {
	return modes.Policy{Mode: c.Mode, LagHigh: int64(c.AutoLagHigh), LagLow: int64(c.AutoLagLow), MinDwell: c.AutoMinDwell}
}

// producer is the producer tuning the settings describe.
func producer(c Config) group.Producer {
	return group.Producer{
		Acks: c.ProducerAcks, Linger: c.ProducerLinger, BatchMaxBytes: int32(c.ProducerBatchMaxBytes),
		Compression: c.ProducerCompression, DeliveryTimeout: c.ProducerDeliveryTimeout,
		MaxBufferedRecords: c.ProducerMaxBufferedRecords,
	}
}
