// Command s3 is an S3-compatible server with Object Lock for the test bed:
// versitygw (github.com/versity/versitygw, Apache-2.0) serving a local
// directory through its posix backend. Object metadata, versioning and
// Object Lock retention live in extended attributes and in a versioning
// directory, wired exactly as versitygw's own `versitygw posix` command does;
// this wrapper only exists because that command's package is not importable.
//
// Usage:
//
//	s3 -root DIR -versioning-dir DIR -listen 127.0.0.1:PORT [-cert FILE -key FILE]
//
// With -cert and -key it serves HTTPS (a server behind a private CA).
// The root credentials come from ROOT_ACCESS_KEY_ID and ROOT_SECRET_ACCESS_KEY.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"
)

func main() {
	root := flag.String("root", "", "directory that holds the buckets (must support user xattrs)")
	versioningDir := flag.String("versioning-dir", "", "directory for old object versions; enables versioning and Object Lock")
	listen := flag.String("listen", "127.0.0.1:7070", "address to serve S3 on")
	region := flag.String("region", "us-east-1", "region reported to clients")
	certFile := flag.String("cert", "", "TLS certificate (PEM); serve HTTPS when set with -key")
	keyFile := flag.String("key", "", "TLS private key (PEM)")
	flag.Parse()

	if err := run(*root, *versioningDir, *listen, *region, *certFile, *keyFile); err != nil {
		fmt.Fprintf(os.Stderr, "s3: %v\n", err)
		os.Exit(1)
	}
}

func run(root, versioningDir, listen, region, certFile, keyFile string) error {
	access := os.Getenv("ROOT_ACCESS_KEY_ID")
	secret := os.Getenv("ROOT_SECRET_ACCESS_KEY")
	if root == "" || access == "" || secret == "" {
		return fmt.Errorf("-root, ROOT_ACCESS_KEY_ID and ROOT_SECRET_ACCESS_KEY are required")
	}
	ms := meta.XattrMeta{}
	if err := ms.Test(root); err != nil {
		return fmt.Errorf("xattr check of %s failed (the filesystem must support user xattrs): %w", root, err)
	}
	opts := posix.PosixOpts{
		VersioningDir: versioningDir,
		Concurrency:   5000,
		IOBufferSize:  1024 * 1024,
	}
	be, err := posix.New(root, ms, opts)
	if err != nil {
		return fmt.Errorf("could not start the posix backend on %s: %w", root, err)
	}
	defer be.Shutdown()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return embedgw.RunVersityGW(ctx, be, &embedgw.Config{
		RootUserAccess:    access,
		RootUserSecret:    secret,
		Region:            region,
		Ports:             []string{listen},
		MaxConnections:    250000,
		MaxRequests:       100000,
		MultipartMaxParts: 10000,
		Quiet:             true,
		KeepAlive:         true,
		CertFile:          certFile,
		KeyFile:           keyFile,
	})
}
