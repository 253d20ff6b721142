// Command vcsim is govmomi's vCenter simulator (github.com/vmware/govmomi/simulator)
// with the Lifeboat harness extensions: virtual disks with real content,
// snapshots that freeze that content, changed block tracking with
// QueryChangedDiskAreas, an endpoint that writes into a VM's live disk, and
// import leases whose uploads (stream-optimized VMDKs) land as the disks'
// content. See README.md ("Harness extensions").
//
// The login password is read from the environment variable
// LIFEBOAT_VCSIM_PASSWORD (never from the command line, where `ps` shows it).
// When the server is ready it prints one line to stdout:
//
//	LIFEBOAT_VCSIM_READY {"url":"https://127.0.0.1:PORT/sdk","datastoreDir":"...","thumbprint":"..."}
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (host:port)")
	username := flag.String("username", "administrator@vsphere.local", "the one user name that may log in")
	certOut := flag.String("cert-out", "", "write the generated serving certificate (PEM) to this file")
	dataDir := flag.String("data-dir", "", "directory under which the datastore directories are created (default: $TMPDIR)")
	datacenters := flag.Int("dc", 1, "number of datacenters")
	clusters := flag.Int("cluster", 1, "number of clusters per datacenter")
	clusterHosts := flag.Int("host", 2, "number of hosts per cluster")
	standaloneHosts := flag.Int("standalone-host", 1, "number of standalone hosts per datacenter")
	vms := flag.Int("vm", 2, "number of VMs per resource pool (and per standalone host)")
	datastores := flag.Int("ds", 1, "number of datastores")
	pools := flag.Int("pool", 0, "number of child resource pools per cluster")
	folders := flag.Int("folder", 0, "number of datacenters placed in a folder")
	portgroups := flag.Int("pg", 1, "number of distributed port groups per datacenter")
	sessionTimeout := flag.Duration("session-timeout", 0, "idle time after which the server drops a session (0: never)")
	blockSize := flag.Int64("cbt-block-size", 64*1024, "granularity of changed block tracking, in bytes")
	pageBytes := flag.Int64("cbt-page-bytes", 1<<30, "largest span one QueryChangedDiskAreas answer covers, in bytes")
	version := flag.String("version", "8.0.3", "vCenter version reported in ServiceContent.about")
	build := flag.String("build", "24022515", "vCenter build reported in ServiceContent.about")
	ownerPid := flag.Int("owner-pid", 0, "exit when this process is gone (0: never)")
	taskDelay := flag.String("task-delay", "", "delay tasks by name before they run, e.g. CreateSnapshot_Task=3000 (milliseconds, comma-separated)")
	stateDir := flag.String("state-dir", "", "save the simulator here on SIGTERM and load it from here on start, as a vCenter keeps its inventory across a restart (see state.go)")
	flag.Parse()

	password := os.Getenv("LIFEBOAT_VCSIM_PASSWORD")
	if password == "" {
		log.Fatal("LIFEBOAT_VCSIM_PASSWORD must be set to the login password")
	}
	if *blockSize <= 0 || *pageBytes < *blockSize {
		log.Fatal("-cbt-block-size must be positive and -cbt-page-bytes at least one block")
	}
	if *taskDelay != "" {
		simulator.TaskDelay.MethodDelay = map[string]int{}
		for _, item := range strings.Split(*taskDelay, ",") {
			name, ms, ok := strings.Cut(item, "=")
			n, err := strconv.Atoi(ms)
			if !ok || err != nil {
				log.Fatalf("-task-delay: %q is not Name=milliseconds", item)
			}
			simulator.TaskDelay.MethodDelay[name] = n
		}
	}
	if *dataDir != "" {
		// Model.Create puts its datastore directories under os.TempDir().
		if err := os.MkdirAll(*dataDir, 0o700); err != nil {
			log.Fatalf("could not create the data directory: %v", err)
		}
		_ = os.Setenv("TMPDIR", *dataDir)
	}

	model := simulator.VPX()
	model.Datacenter = *datacenters
	model.Cluster = *clusters
	model.ClusterHost = *clusterHosts
	model.Host = *standaloneHosts
	model.Machine = *vms
	model.Datastore = *datastores
	model.Pool = *pools
	model.Folder = *folders
	model.Portgroup = *portgroups
	about := &model.ServiceContent.About
	about.Version = *version
	about.Build = *build
	about.ApiVersion = *version + ".0"
	about.FullName = fmt.Sprintf("VMware vCenter Server %s build-%s (vcsim with Lifeboat harness extensions)", *version, *build)

	var saved *savedHarness
	if *stateDir != "" && stateSaved(*stateDir) {
		var err error
		if saved, err = loadModel(model, *stateDir); err != nil {
			log.Fatalf("could not load the simulator saved in %s: %v", *stateDir, err)
		}
		log.Printf("loaded the simulator saved in %s", *stateDir)
	} else if err := model.Create(); err != nil {
		log.Fatalf("could not create the simulator inventory: %v", err)
	}

	if *sessionTimeout > 0 {
		model.Map().OptionManager().UpdateOptions(&types.UpdateOptions{
			ChangedValue: []types.BaseOptionValue{&types.OptionValue{
				Key:   "config.vmacore.soap.sessionTimeout",
				Value: sessionTimeout.String(),
			}},
		})
	}

	if *stateDir != "" {
		if err := os.MkdirAll(*stateDir, 0o700); err != nil {
			log.Fatalf("could not create the state directory: %v", err)
		}
	}
	cert, certPEM, err := servingCertificate(*stateDir, *listen)
	if err != nil {
		log.Fatalf("could not create the serving certificate: %v", err)
	}
	if *certOut != "" {
		if err := os.WriteFile(*certOut, certPEM, 0o600); err != nil {
			log.Fatalf("could not write the certificate: %v", err)
		}
	}

	h := newHarness(model, *username, password, *blockSize, *pageBytes)
	if saved != nil {
		h.restoreState(saved)
	}
	if err := h.prepareAllDisks(); err != nil {
		log.Fatalf("could not give the VMs' disks their content files: %v", err)
	}
	model.Map().Handler = h.dispatch

	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*username, password)}
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	server := model.Service.NewServer()
	// The simulator registered its own handlers on its mux; the harness
	// endpoints and the datastore upload hook sit in front of them.
	server.Config.Handler = h.httpHandler(server.Config.Handler)

	shutdown := func(code int) {
		if *stateDir != "" {
			// Saved through the running server's own API; the datastores stay for the next start.
			if err := h.saveState(*stateDir, server.URL); err != nil {
				log.Printf("could not save the simulator to %s: %v", *stateDir, err)
				code = 1
			} else {
				log.Printf("saved the simulator to %s", *stateDir)
			}
			// Exiting drops every connection at once, as a stopping vCenter
			// does; server.Close would wait for long polls (WaitForUpdatesEx)
			// to end.
			os.Exit(code)
		}
		server.Close()
		model.Remove()
		os.Exit(code)
	}

	sum := sha256.Sum256(cert.Certificate[0])
	public := *server.URL
	public.User = nil // the URL carries the login; never print the password
	ready := map[string]string{
		"url":          public.String(),
		"datastoreDir": strings.TrimSuffix(h.datastoreRoot(), "/"),
		"thumbprint":   colonHex(sum[:]),
	}
	line, _ := json.Marshal(ready)
	fmt.Printf("LIFEBOAT_VCSIM_READY %s\n", line)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	if *ownerPid > 0 {
		go func() {
			for range time.Tick(time.Second) {
				if err := syscall.Kill(*ownerPid, 0); errors.Is(err, syscall.ESRCH) {
					log.Printf("owner process %d is gone; stopping", *ownerPid)
					signals <- syscall.SIGTERM
					return
				}
			}
		}()
	}
	<-signals
	shutdown(0)
}

// selfSignedCertificate creates an ECDSA P-256 certificate for the loopback
// addresses and the listen address (the test bed's host address, which pods
// dial) that is its own CA, so a client can trust it as a CA bundle or by its
// SHA-256 thumbprint.
func selfSignedCertificate(listen string) (cert tls.Certificate, certPEM, keyPEM []byte, err error) {
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if host, _, err := net.SplitHostPort(listen); err == nil {
		if ip := net.ParseIP(host); ip != nil && !ip.IsLoopback() && !ip.IsUnspecified() {
			ips = append(ips, ip)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "vcsim.lifeboat.test", Organization: []string{"Lifeboat test bed"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost", "vcsim.lifeboat.test"},
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	return cert, certPEM, keyPEM, err
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, v := range b {
		parts[i] = fmt.Sprintf("%02X", v)
	}
	return strings.Join(parts, ":")
}
