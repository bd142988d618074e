// Package modes decides how Eddy consumes: the mode each partition runs in
// (single records or bulk batches) as its lag changes, and the order of
// step plans (topic groups consumed to their end one after another).
//
// It is pure decision logic: lag and positions in, decisions out. It knows
// nothing of Kafka or actors; the actors package measures lag, asks a
// Switch or a Plan what to do, and applies the answer.
package modes
