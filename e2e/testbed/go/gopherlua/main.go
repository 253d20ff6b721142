// Command gopherlua runs Argo CD resource health checks (health.lua) against
// their tests (health_test.yaml and testdata/) on Argo CD's own Lua engine,
// github.com/yuin/gopher-lua at the version Argo CD pins, the way Argo CD
// runs them (util/lua/lua.go and util/lua/health_test.go in Argo CD v3.5.1):
//
//   - the object is read with sigs.k8s.io/yaml, as Argo CD's test does, and
//     handed to the script as the global `obj`, converted as Argo CD's
//     decodeValue converts it;
//   - the state is made with lua.NewState(lua.Options{SkipOpenLibs: !openLibs}),
//     then the package, base and table libraries and Argo CD's safe os library
//     are opened, os is preloaded for require("os"), and the script gets one
//     second (context timeout);
//   - the returned table is encoded with layeh.com/gopher-json and decoded
//     into {status, message}; an empty table or nil is an empty status, and a
//     status Argo CD does not know becomes Unknown, as in Argo CD.
//
// Each test runs twice: with the standard libraries open (how Argo CD runs its
// built-in scripts, and its own health tests) and without them (how Argo CD
// runs a script from argocd-cm unless resource.customizations.useOpenLibs is
// set). A script must give the expected result both ways.
//
// Usage:
//
//	gopherlua [-v] DIR
//
// DIR is a resource_customizations directory: DIR/<group>/<Kind>/health.lua
// with health_test.yaml beside it. Exit status 0 when every test passes, 1
// when one does not (each failure is reported), 2 on a usage error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
	"sigs.k8s.io/yaml"
)

// healthStatus is Argo CD's health.HealthStatus (gitops-engine pkg/health).
type healthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// healthTest is one entry of health_test.yaml, as Argo CD's health_test.go reads it.
type healthTest struct {
	InputPath    string       `json:"inputPath"`
	HealthStatus healthStatus `json:"healthStatus"`
}

type healthTests struct {
	Tests []healthTest `json:"tests"`
}

// The status codes Argo CD accepts from a script (isValidHealthStatusCode).
var validStatus = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
}

func main() {
	verbose := flag.Bool("v", false, "print every test, not only the failures")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: gopherlua [-v] RESOURCE_CUSTOMIZATIONS_DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	root := flag.Arg(0)

	scripts, err := findHealthScripts(root)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gopherlua: %v\n", err)
		os.Exit(2)
	}
	if len(scripts) == 0 {
		fmt.Fprintf(os.Stderr, "gopherlua: no */*/health.lua under %s\n", root)
		os.Exit(2)
	}

	passed, failed := 0, 0
	for _, dir := range scripts {
		rel, _ := filepath.Rel(root, dir)
		results, err := runDir(dir)
		if err != nil {
			fmt.Printf("FAIL %s: %v\n", rel, err)
			failed++
			continue
		}
		for _, r := range results {
			name := fmt.Sprintf("%s/%s (%s)", rel, r.inputPath, r.mode)
			if r.problem != "" {
				fmt.Printf("FAIL %s: %s\n", name, r.problem)
				failed++
				continue
			}
			if *verbose {
				fmt.Printf("ok   %s: %s %q\n", name, r.got.Status, r.got.Message)
			}
			passed++
		}
	}
	fmt.Printf("%s: %d passed, %d failed, %d health checks\n", luaVersion(), passed, failed, len(scripts))
	if failed > 0 {
		os.Exit(1)
	}
}

// luaVersion names the engine module and version this binary was built with, so a report says what the tests ran on.
func luaVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/yuin/gopher-lua" {
				return dep.Path + " " + dep.Version
			}
		}
	}
	return "github.com/yuin/gopher-lua (version unknown)"
}

// findHealthScripts returns the directories root/<group>/<Kind> that hold a health.lua, sorted.
func findHealthScripts(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "health.lua" {
			dirs = append(dirs, filepath.Dir(path))
		}
		return nil
	})
	sort.Strings(dirs)
	return dirs, err
}

type result struct {
	inputPath string
	mode      string
	got       healthStatus
	problem   string
}

// runDir runs one health.lua against every test in its health_test.yaml, in both library modes.
func runDir(dir string) ([]result, error) {
	script, err := os.ReadFile(filepath.Join(dir, "health.lua"))
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
	if err != nil {
		return nil, fmt.Errorf("every health.lua needs a health_test.yaml beside it: %w", err)
	}
	var tests healthTests
	if err := yaml.UnmarshalStrict(raw, &tests); err != nil {
		return nil, fmt.Errorf("health_test.yaml: %w", err)
	}
	if len(tests.Tests) == 0 {
		return nil, errors.New("health_test.yaml has no tests")
	}
	group, kind := filepath.Base(filepath.Dir(dir)), filepath.Base(dir)
	var results []result
	for _, t := range tests.Tests {
		obj, err := readObject(filepath.Join(dir, t.InputPath))
		if err != nil {
			results = append(results, result{inputPath: t.InputPath, mode: "input", problem: err.Error()})
			continue
		}
		// Argo CD picks the script by the object's group and kind, so a test object of another kind would test nothing.
		if g, k := groupKind(obj); g != group || k != kind {
			results = append(results, result{inputPath: t.InputPath, mode: "input", problem: fmt.Sprintf("the object is %s/%s, not %s/%s", g, k, group, kind)})
			continue
		}
		for _, openLibs := range []bool{true, false} {
			mode := "without open libraries"
			if openLibs {
				mode = "with open libraries"
			}
			r := result{inputPath: t.InputPath, mode: mode}
			got, err := executeHealthLua(obj, string(script), openLibs)
			switch {
			case err != nil:
				r.problem = err.Error()
			case *got != t.HealthStatus:
				r.problem = fmt.Sprintf("got %s %q, want %s %q", got.Status, got.Message, t.HealthStatus.Status, t.HealthStatus.Message)
			}
			if got != nil {
				r.got = *got
			}
			results = append(results, r)
		}
	}
	return results, nil
}

// readObject reads a test object as Argo CD's health_test.go does (sigs.k8s.io/yaml into a map).
func readObject(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	obj := map[string]any{}
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return obj, nil
}

func groupKind(obj map[string]any) (string, string) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	group := ""
	if i := strings.Index(apiVersion, "/"); i >= 0 {
		group = apiVersion[:i]
	}
	return group, kind
}

// executeHealthLua is Argo CD's VM.ExecuteHealthLua (util/lua/lua.go, v3.5.1).
func executeHealthLua(obj map[string]any, script string, openLibs bool) (*healthStatus, error) {
	l, err := runLua(obj, script, openLibs)
	if err != nil {
		return nil, err
	}
	returnValue := l.Get(-1)
	if returnValue.Type() == lua.LTTable {
		jsonBytes, err := luajson.Encode(returnValue)
		if err != nil {
			return nil, err
		}
		hs := &healthStatus{}
		if err := json.Unmarshal(jsonBytes, hs); err != nil {
			// An empty table encodes as [], which Argo CD takes for an empty status.
			typeError := &json.UnmarshalTypeError{Value: "array", Type: reflect.TypeOf(hs)}
			if errors.As(err, &typeError) {
				return &healthStatus{}, nil
			}
			return nil, err
		}
		if !validStatus[hs.Status] {
			return &healthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
		}
		return hs, nil
	} else if returnValue.Type() == lua.LTNil {
		return &healthStatus{}, nil
	}
	return nil, fmt.Errorf("expect table output from Lua script, not %s", returnValue.Type().String())
}

// runLua is Argo CD's VM.runLuaWithResourceActionParameters (util/lua/lua.go, v3.5.1)
// without action parameters. As there, the state is closed on return and the
// caller reads the script's result from its stack.
func runLua(obj map[string]any, script string, openLibs bool) (*lua.LState, error) {
	l := lua.NewState(lua.Options{
		SkipOpenLibs: !openLibs,
	})
	defer l.Close()
	// Argo CD opens these whatever UseOpenLibs says.
	for _, pair := range []struct {
		n string
		f lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, OpenSafeOs},
	} {
		if err := l.CallByParam(lua.P{
			Fn:      l.NewFunction(pair.f),
			NRet:    0,
			Protect: true,
		}, lua.LString(pair.n)); err != nil {
			return l, err
		}
	}
	l.PreloadModule(lua.OsLibName, SafeOsLoader)

	ctx, cancel := context.WithTimeout(context.Background(), 1*time.Second)
	defer cancel()
	l.SetContext(ctx)

	l.SetGlobal("actionParams", l.CreateTable(0, 0))
	l.SetGlobal("obj", decodeValue(l, obj))
	err := l.DoString(script)

	// Argo CD drops the Lua stack trace from run errors, since users see them.
	var apiErr *lua.ApiError
	if errors.As(err, &apiErr) && apiErr.Type == lua.ApiErrorRun {
		apiErr.StackTrace = ""
		err = apiErr
	}
	return l, err
}

// decodeValue is Argo CD's decodeValue (util/lua/lua.go, v3.5.1): Go values to Lua values.
func decodeValue(l *lua.LState, value any) lua.LValue {
	switch converted := value.(type) {
	case bool:
		return lua.LBool(converted)
	case float64:
		return lua.LNumber(converted)
	case string:
		return lua.LString(converted)
	case json.Number:
		return lua.LString(converted)
	case int:
		return lua.LNumber(converted)
	case int32:
		return lua.LNumber(converted)
	case int64:
		return lua.LNumber(converted)
	case []any:
		arr := l.CreateTable(len(converted), 0)
		for _, item := range converted {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(converted))
		for key, item := range converted {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	case nil:
		return lua.LNil
	}
	return lua.LNil
}
