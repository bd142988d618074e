// Package conn is how every Kafka client of an Eddy process connects to the
// brokers: TLS (the CA, a client certificate for mutual TLS, the server
// name), SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER with a
// token read from a file, AWS_MSK_IAM with the AWS default credential
// chain), and what a failure to connect means in words a user can act on.
//
// New builds a Security from Settings once: it reads the files (naming
// the path of one it cannot read) and builds the TLS config and the SASL
// mechanism. Security.Options are the franz-go options every client gets:
// the worker's group client (which is also its admin client), the table
// restore and global-table consumers, the produce, consume and topics
// tools, and the bench harness. Security.Explain turns the error of a
// request that could not connect (authentication refused, a certificate
// not trusted, TLS on one side only) into one that says what failed and
// which setting to fix.
//
// A broker that refuses a password may answer with an error
// (SASL_AUTHENTICATION_FAILED) or just close the connection, which a
// client sees as EOF and would retry for as long as its requests may. A
// Security counts connections closed during authentication; after two in
// a row, with no success between, it refuses to authenticate again for a
// while and fails the request with an AuthError: a wrong password ends
// start-up in about a second, naming the mechanism and user, rather than
// retrying until a timeout.
//
// Passwords and tokens are Secrets: text that prints, marshals and logs
// as "[redacted]".
//
// The package knows nothing of Eddy's settings table: package runtime
// owns the settings (and their cross-checks) and fills Settings from
// them. It imports no other Eddy package.
package conn
