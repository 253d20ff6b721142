// Wrapper module that pins the Prometheus Operator release whose CRDs
// (example/prometheus-operator-crd/ in its module zip) give kubeconform the
// schemas of the chart's PrometheusRule and ServiceMonitor. Nothing is built
// here: e2e/testbed/schemas.ts reads the required version below and runs
// `go mod download` for it, which checks the zip against go.sum. With no Go
// code, `go mod tidy` would drop the requirement: bump it with `go get`.
module lifeboat.io/e2e/testbed/prometheus-operator-crds

go 1.26.0

require github.com/prometheus-operator/prometheus-operator v0.85.0 // indirect
