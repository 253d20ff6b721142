// Wrapper module that builds govmomi's vCenter simulator (vcsim) with the
// Lifeboat harness extensions (see README.md).
module lifeboat.io/e2e/testbed/vcsim

go 1.26.0

require github.com/vmware/govmomi v0.55.0

require github.com/google/uuid v1.6.0
