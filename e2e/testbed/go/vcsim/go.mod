// Wrapper module that builds govmomi's vCenter simulator (vcsim) with the
// Lifeboat harness extensions (see README.md).
module lifeboat.io/e2e/testbed/vcsim

go 1.26.0

require github.com/vmware/govmomi v0.55.0

require github.com/google/uuid v1.6.0

require (
	github.com/a8m/tree v0.0.0-20240104212747-2c8764a5f17e // indirect
	github.com/dougm/pretty v0.0.0-20160325215624-add1dbc86daf // indirect
	github.com/kr/text v0.2.0 // indirect
)
