package conn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/twmb/franz-go/pkg/sasl"
	kaws "github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// mechanism builds s's SASL mechanism. It reads the password or token
// file once, so that a missing one fails the start naming its path.
func mechanism(s Settings) (sasl.Mechanism, error) {
	switch s.Mechanism {
	case Plain, ScramSHA256, ScramSHA512:
		if s.Username == "" {
			return nil, fmt.Errorf("conn: SASL %s needs sasl.username", s.Mechanism)
		}
		password, err := passwordSource(s)
		if err != nil {
			return nil, err
		}
		switch s.Mechanism {
		case Plain:
			return plain.Plain(func(ctx context.Context) (plain.Auth, error) {
				p, err := password(ctx)
				return plain.Auth{User: s.Username, Pass: p.Reveal()}, err
			}), nil
		case ScramSHA256:
			return scram.Sha256(func(ctx context.Context) (scram.Auth, error) {
				p, err := password(ctx)
				return scram.Auth{User: s.Username, Pass: p.Reveal()}, err
			}), nil
		default:
			return scram.Sha512(func(ctx context.Context) (scram.Auth, error) {
				p, err := password(ctx)
				return scram.Auth{User: s.Username, Pass: p.Reveal()}, err
			}), nil
		}
	case OAuthBearer:
		if s.TokenFile == "" {
			return nil, errors.New("conn: SASL OAUTHBEARER needs sasl.token_file, the file that holds the token")
		}
		token, err := newSecretFile("sasl.token_file", s.TokenFile)
		if err != nil {
			return nil, err
		}
		return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			t, err := token.read()
			return oauth.Auth{Token: t.Reveal()}, err
		}), nil
	case AWSMSKIAM:
		return awsMechanism(awsconfig.LoadDefaultConfig), nil
	case "":
		return nil, fmt.Errorf("conn: security protocol %s needs sasl.mechanism: one of %s", s.Protocol, strings.Join(Mechanisms, ", "))
	}
	return nil, fmt.Errorf("conn: unknown SASL mechanism %q: use one of %s", s.Mechanism, strings.Join(Mechanisms, ", "))
}

// passwordSource returns where a PLAIN or SCRAM password comes from: the
// setting, or the file (re-read when it changes).
func passwordSource(s Settings) (func(context.Context) (Secret, error), error) {
	switch {
	case s.Password.IsSet() && s.PasswordFile != "":
		return nil, errors.New("conn: both sasl.password and sasl.password_file are set: keep one")
	case s.Password.IsSet():
		return func(context.Context) (Secret, error) { return s.Password, nil }, nil
	case s.PasswordFile != "":
		f, err := newSecretFile("sasl.password_file", s.PasswordFile)
		if err != nil {
			return nil, err
		}
		return func(context.Context) (Secret, error) { return f.read() }, nil
	}
	return nil, fmt.Errorf("conn: SASL %s needs a password: set EDDY_SASL_PASSWORD, or sasl.password_file to a file that holds it", s.Mechanism)
}

// secretFile is a file that holds one secret (a password, a token), read
// again whenever its size or modification time changes. Safe for
// concurrent use: clients authenticate from their own goroutines.
type secretFile struct {
	key, path string
	mu        sync.Mutex // guards what follows
	modTime   time.Time
	size      int64
	value     Secret
}

// newSecretFile reads the file at path, the value of setting key.
func newSecretFile(key, path string) (*secretFile, error) {
	f := &secretFile{key: key, path: path}
	if _, err := f.read(); err != nil {
		return nil, err
	}
	return f, nil
}

// read returns the file's secret, reading the file again if it changed.
// Its errors name the setting and the path, never the content.
func (f *secretFile) read() (Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, err := os.Stat(f.path)
	if err != nil {
		return Secret{}, fmt.Errorf("conn: %s: %w", f.key, err)
	}
	if f.value.IsSet() && info.ModTime().Equal(f.modTime) && info.Size() == f.size {
		return f.value, nil
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return Secret{}, fmt.Errorf("conn: %s: %w", f.key, err)
	}
	v := strings.TrimRight(string(data), "\r\n")
	if v == "" {
		return Secret{}, fmt.Errorf("conn: %s %s is empty: it must hold the secret (a trailing newline is dropped)", f.key, f.path)
	}
	f.value, f.modTime, f.size = NewSecret(v), info.ModTime(), info.Size()
	return f.value, nil
}

// awsMechanism is AWS_MSK_IAM with the AWS SDK's default credential
// chain (environment, shared config and credentials files, web identity,
// ECS and EC2 roles). It is lazy: load (config.LoadDefaultConfig) runs at
// the first authentication, not at start, and each authentication asks
// the chain's cache for credentials, which renews them before they
// expire.
func awsMechanism(load func(context.Context, ...func(*awsconfig.LoadOptions) error) (awssdk.Config, error)) sasl.Mechanism {
	var (
		mu    sync.Mutex // guards creds
		creds awssdk.CredentialsProvider
	)
	provider := func(ctx context.Context) (awssdk.CredentialsProvider, error) {
		mu.Lock()
		defer mu.Unlock()
		if creds == nil {
			cfg, err := load(ctx)
			if err != nil {
				return nil, fmt.Errorf("conn: AWS_MSK_IAM: loading the AWS configuration: %w", err)
			}
			if cfg.Credentials == nil {
				return nil, errors.New("conn: AWS_MSK_IAM: the AWS configuration has no credentials provider")
			}
			creds = cfg.Credentials
		}
		return creds, nil
	}
	return kaws.ManagedStreamingIAM(func(ctx context.Context) (kaws.Auth, error) {
		p, err := provider(ctx)
		if err != nil {
			return kaws.Auth{}, err
		}
		c, err := p.Retrieve(ctx)
		if err != nil {
			return kaws.Auth{}, fmt.Errorf("conn: AWS_MSK_IAM: no AWS credentials: %w "+
				"(the default chain reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared files, "+
				"AWS_WEB_IDENTITY_TOKEN_FILE, and the ECS or EC2 role)", err)
		}
		return kaws.Auth{AccessKey: c.AccessKeyID, SecretKey: c.SecretAccessKey, SessionToken: c.SessionToken}, nil
	})
}
