// Package serde provides typed codecs for Kafka record keys and values.
//
// A Kafka record carries its key and value as opaque bytes. A [Codec]
// converts between those bytes and a Go type, so that a processor declares
// the types it works with once, where it names its topics, and its handlers
// receive typed keys and values (K and V) instead of []byte. The same codec
// encodes what a processor writes, so a topic's wire format is defined in one
// place.
//
// The package provides codecs for raw bytes ([Bytes]), UTF-8 text
// ([String]), JSON ([JSON]) and big-endian 64-bit integers ([Int64], the
// wire form of Kafka's LongSerializer). [Func] adapts a pair of functions,
// for formats such as Protobuf or Avro that the package does not cover.
//
// Every Decode failure is a [*FormatError], which names the codec and the
// reason and wraps the underlying cause, if any. This package knows nothing
// about records: package runtime wraps a Decode error into a decode error
// naming the topic, partition and offset of the record, and delivers it on
// the handler's error path. Codecs never panic on bad input.
//
// All codecs in this package are stateless and safe for concurrent use.
package serde
