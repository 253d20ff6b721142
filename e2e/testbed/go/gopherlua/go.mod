// Wrapper module that builds the test runner for Lifeboat's Argo CD health
// checks (argocd/resource_customizations) on Argo CD's Lua engine:
// gopher-lua, gopher-json, sigs.k8s.io/yaml and go.yaml.in/yaml/v2 at the
// versions Argo CD v3.5.1 pins in its go.mod.
module lifeboat.io/e2e/testbed/gopherlua

go 1.26.0

require (
	github.com/yuin/gopher-lua v1.1.2
	layeh.com/gopher-json v0.0.0-20190114024228-97fed8db8427
	sigs.k8s.io/yaml v1.6.0
)

require go.yaml.in/yaml/v2 v2.4.3 // indirect
