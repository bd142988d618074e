package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// ServerTLS is the TLS config of a broker serving the certificate and key
// of certFile and keyFile (PEM). With clientCAFile, the broker requires
// clients to present a certificate that CA signed (mutual TLS); empty
// asks for none. Its errors name the file.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("broker: TLS needs both a certificate file and a key file")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("broker: TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAFile != "" {
		data, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("broker: TLS client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("broker: TLS client CA %s holds no PEM certificate", clientCAFile)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// GeneratedTLS is what GenerateTLS wrote: a certificate authority, and a
// certificate of the broker and one of a client, both signed by it.
type GeneratedTLS struct {
	// Config is the broker's TLS config: it serves the broker's
	// certificate and asks clients for none.
	Config *tls.Config
	// CAFile (ca.pem) is what clients trust: their tls.ca_file.
	CAFile string
	// CertFile and KeyFile (broker.pem, broker-key.pem) are the broker's.
	CertFile, KeyFile string
	// ClientCertFile and ClientKeyFile (client.pem, client-key.pem) are
	// a client certificate, for trying mutual TLS with ServerTLS(CertFile,
	// KeyFile, CAFile).
	ClientCertFile, ClientKeyFile string
}

// generatedValidity is how long generated certificates are valid.
const generatedValidity = 365 * 24 * time.Hour

// GenerateTLS creates a fresh self-signed certificate authority and
// writes, into dir (created if missing), its certificate (ca.pem) and a
// certificate and key of the broker (broker.pem, broker-key.pem) and of a
// client (client.pem, client-key.pem), both signed by it. The broker's is
// valid for hosts, localhost, 127.0.0.1 and ::1. The CA's key is not
// kept: nothing else can be signed with it. Keys are written readable by
// the owner only. For development: each call makes a new CA, so clients
// of a restarted broker must read ca.pem again.
func GenerateTLS(dir string, hosts ...string) (*GeneratedTLS, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("broker: TLS directory: %w", err)
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("broker: generating a CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Eddy development CA " + now.UTC().Format(time.RFC3339)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(generatedValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("broker: creating the CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("broker: creating the CA certificate: %w", err)
	}
	g := &GeneratedTLS{
		CAFile:         filepath.Join(dir, "ca.pem"),
		CertFile:       filepath.Join(dir, "broker.pem"),
		KeyFile:        filepath.Join(dir, "broker-key.pem"),
		ClientCertFile: filepath.Join(dir, "client.pem"),
		ClientKeyFile:  filepath.Join(dir, "client-key.pem"),
	}
	if err := writePEM(g.CAFile, "CERTIFICATE", caDER, 0o644); err != nil {
		return nil, err
	}
	names := append(slices.Clone(hosts), "localhost", "127.0.0.1", "::1")
	slices.Sort(names)
	names = slices.Compact(names)
	// The broker's certificate is valid for clients too, so that the
	// broker can present it to itself (ClientOptions) under mutual TLS.
	brokerCert, err := issue(ca, caKey, "Eddy development broker", names,
		[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, g.CertFile, g.KeyFile, now)
	if err != nil {
		return nil, err
	}
	if _, err := issue(ca, caKey, "Eddy development client", nil,
		[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, g.ClientCertFile, g.ClientKeyFile, now); err != nil {
		return nil, err
	}
	g.Config = &tls.Config{Certificates: []tls.Certificate{brokerCert}, MinVersion: tls.VersionTLS12}
	return g, nil
}

// issue creates a certificate for names signed by ca, writes it and its
// key to certFile and keyFile, and returns the pair.
func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, names []string, usage []x509.ExtKeyUsage,
	certFile, keyFile string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("broker: generating a key for %s: %w", cn, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(generatedValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if n != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("broker: creating the certificate of %s: %w", cn, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("broker: encoding the key of %s: %w", cn, err)
	}
	if err := writePEM(certFile, "CERTIFICATE", der, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	if err := writePEM(keyFile, "PRIVATE KEY", keyDER, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func writePEM(path, kind string, der []byte, mode os.FileMode) error {
	data := pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("broker: writing %s: %w", path, err)
	}
	// WriteFile sets the mode of a file it creates only.
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("broker: writing %s: %w", path, err)
	}
	return nil
}

// serial is a random certificate serial number.
func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) // crypto/rand does not fail
	return n
}
