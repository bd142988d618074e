package conn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// tlsConfig builds the client's TLS config from s's files. Its errors
// name the setting and the path.
func tlsConfig(s Settings) (*tls.Config, error) {
	c := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         s.ServerName,
		InsecureSkipVerify: s.InsecureSkipVerify, //nolint:gosec // a setting, documented for development only, and warned about at start
	}
	if s.CAFile != "" {
		data, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("conn: tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("conn: tls.ca_file %s holds no PEM certificate "+
				"(expected one or more -----BEGIN CERTIFICATE----- blocks: the CA that signs the brokers' certificates)", s.CAFile)
		}
		c.RootCAs = pool
	}
	switch {
	case s.CertFile != "" && s.KeyFile != "":
		certPEM, err := os.ReadFile(s.CertFile)
		if err != nil {
			return nil, fmt.Errorf("conn: tls.cert_file: %w", err)
		}
		keyPEM, err := os.ReadFile(s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("conn: tls.key_file: %w", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("conn: tls.cert_file %s and tls.key_file %s: %w "+
				"(they must be PEM files of one certificate and its private key)", s.CertFile, s.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	case s.CertFile != "":
		return nil, errors.New("conn: tls.cert_file is set without tls.key_file: mutual TLS needs both")
	case s.KeyFile != "":
		return nil, errors.New("conn: tls.key_file is set without tls.cert_file: mutual TLS needs both")
	}
	return c, nil
}
