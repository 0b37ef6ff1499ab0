// Command argocd-lua runs Argo CD resource customizations (health.lua, discovery.lua, action.lua)
// in Argo CD's own Lua VM, github.com/argoproj/argo-cd/v3/util/lua, the way the application
// controller and the API server run them. scripts/build-argocd-lua.sh builds it into .cache/bin;
// tests/packaging/test_argocd_engine.py drives it.
//
// Usage:
//
//	argocd-lua health    SOURCE OBJ.json
//	argocd-lua discovery SOURCE OBJ.json
//	argocd-lua action    SOURCE OBJ.json ACTION
//	argocd-lua batch     SOURCE < requests.json    # [{"op": "health"|"discovery"|"action", "obj": {...}, "action": "..."}]
//	argocd-lua version
//
// SOURCE picks how Argo CD finds the scripts:
//
//   - a directory laid out like Argo CD's resource_customizations (<group>/<kind>/health.lua,
//     <group>/<kind>/actions/discovery.lua, <group>/<kind>/actions/<name>/action.lua): the files
//     as they are, run as Argo CD runs its built-in scripts (util/lua/lua.go
//     getPredefinedLuaScripts reads the same paths from its embedded copy of that directory);
//   - a file, an argocd-cm patch (`data:` with resource.customizations.* keys): loaded into an
//     argocd-cm ConfigMap and read back by util/settings' SettingsManager.GetResourceOverrides,
//     then run through the VM's ResourceOverrides, exactly as for a ConfigMap in a cluster.
//
// Each result is JSON on stdout: a health status, the actions discovered (sorted by name), or
// for an action the impacted resources with the merge patch the API server would send (split
// into the status and non-status parts as server/application/application.go patchResource does).
// A script error is {"error": "..."} (exit status 1, except in batch mode).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	appv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	argolua "github.com/argoproj/argo-cd/v3/util/lua"
	"github.com/argoproj/argo-cd/v3/util/settings"
	jsonpatch "github.com/evanphx/json-patch"
	log "github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"
)

// ArgoCDVersion is the argo-cd module this binary is built against (kept equal to go.mod).
const ArgoCDVersion = "v3.2.12"

const argocdNamespace = "argocd"

type request struct {
	Op     string          `json:"op"`
	Obj    json.RawMessage `json:"obj"`
	Action string          `json:"action,omitempty"`
}

type impacted struct {
	Operation      argolua.K8SOperation `json:"operation"`
	Resource       map[string]any       `json:"resource"`
	MergePatch     json.RawMessage      `json:"mergePatch,omitempty"`
	StatusPatch    json.RawMessage      `json:"statusPatch,omitempty"`
	NonStatusPatch json.RawMessage      `json:"nonStatusPatch,omitempty"`
}

// engine runs one request against the scripts of one SOURCE.
type engine interface {
	health(obj *unstructured.Unstructured) (any, error)
	discovery(obj *unstructured.Unstructured) (any, error)
	action(obj *unstructured.Unstructured, name string) (any, error)
}

// filesEngine: the scripts as files, run as Argo CD runs built-in (embedded) scripts.
type filesEngine struct {
	dir string
	// What GetHealthScript answers for a built-in health script: its standard libraries open.
	healthOpenLibs bool
}

func (e filesEngine) read(objKey, scriptFile string) (string, error) {
	// The paths of lua.go getPredefinedLuaScripts: filepath.Join(objKey, scriptFile).
	data, err := os.ReadFile(filepath.Join(e.dir, objKey, scriptFile))
	if err != nil {
		if os.IsNotExist(err) {
			return "", errors.New("built-in script does not exist") // lua.go errScriptDoesNotExist
		}
		return "", err
	}
	return string(data), nil
}

func (e filesEngine) health(obj *unstructured.Unstructured) (any, error) {
	script, err := e.read(argolua.GetConfigMapKey(obj.GroupVersionKind()), "health.lua")
	if err != nil {
		return nil, err
	}
	// As ResourceHealthOverrides.GetResourceHealth: the VM takes useOpenLibs from GetHealthScript.
	vm := argolua.VM{UseOpenLibs: e.healthOpenLibs}
	return vm.ExecuteHealthLua(obj, script)
}

func (e filesEngine) discovery(obj *unstructured.Unstructured) (any, error) {
	// As GetResourceActionDiscovery for a built-in: key + "/actions/", "discovery.lua".
	script, err := e.read(argolua.GetConfigMapKey(obj.GroupVersionKind())+"/actions/", "discovery.lua")
	if err != nil {
		return nil, err
	}
	// The API server's getAvailableActions: lua.VM{ResourceOverrides: ...}, libraries closed.
	actions, err := argolua.VM{}.ExecuteResourceActionDiscovery(obj, []string{script})
	return sortedActions(actions), err
}

func (e filesEngine) action(obj *unstructured.Unstructured, name string) (any, error) {
	script, err := e.read(fmt.Sprintf("%s/actions/%s", argolua.GetConfigMapKey(obj.GroupVersionKind()), name), "action.lua")
	if err != nil {
		return nil, err
	}
	// The API server's RunResourceActionV2: lua.VM{ResourceOverrides: ...}, libraries closed.
	return runAction(argolua.VM{}, obj, script)
}

// configMapEngine: the scripts as an argocd-cm patch registers them.
type configMapEngine struct {
	vm argolua.VM
}

func newConfigMapEngine(path string) (*configMapEngine, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var patch struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.UnmarshalStrict(raw, &patch); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(patch.Data) == 0 {
		return nil, fmt.Errorf("%s: no data", path)
	}
	// `kubectl patch cm argocd-cm --type merge` onto the stock argocd-cm (labelled, no data).
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "argocd-cm",
			Namespace: argocdNamespace,
			Labels:    map[string]string{"app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd"},
		},
		Data: patch.Data,
	}
	ctx := context.Background()
	mgr := settings.NewSettingsManager(ctx, fake.NewClientset(cm), argocdNamespace)
	overrides, err := mgr.GetResourceOverrides()
	if err != nil {
		return nil, fmt.Errorf("%s: GetResourceOverrides: %w", path, err)
	}
	return &configMapEngine{vm: argolua.VM{ResourceOverrides: overrides}}, nil
}

func (e *configMapEngine) health(obj *unstructured.Unstructured) (any, error) {
	// What the application controller calls (controller/health.go via gitops-engine).
	status, err := argolua.ResourceHealthOverrides(e.vm.ResourceOverrides).GetResourceHealth(obj)
	if err == nil && status == nil {
		err = errors.New("no health script registered for " + argolua.GetConfigMapKey(obj.GroupVersionKind()))
	}
	return status, err
}

func (e *configMapEngine) discovery(obj *unstructured.Unstructured) (any, error) {
	// server/application/application.go getAvailableActions.
	scripts, err := e.vm.GetResourceActionDiscovery(obj)
	if err != nil {
		return nil, err
	}
	if len(scripts) == 0 {
		return nil, errors.New("no discovery script registered for " + argolua.GetConfigMapKey(obj.GroupVersionKind()))
	}
	actions, err := e.vm.ExecuteResourceActionDiscovery(obj, scripts)
	return sortedActions(actions), err
}

func (e *configMapEngine) action(obj *unstructured.Unstructured, name string) (any, error) {
	// server/application/application.go RunResourceActionV2.
	definition, err := e.vm.GetResourceAction(obj, name)
	if err != nil {
		return nil, err
	}
	return runAction(e.vm, obj, definition.ActionLua)
}

func sortedActions(actions []appv1.ResourceAction) []appv1.ResourceAction {
	sort.Slice(actions, func(i, j int) bool { return actions[i].Name < actions[j].Name })
	return actions
}

func runAction(vm argolua.VM, live *unstructured.Unstructured, script string) ([]impacted, error) {
	liveBytes, err := json.Marshal(live)
	if err != nil {
		return nil, err
	}
	resources, err := vm.ExecuteResourceAction(live, script, nil)
	if err != nil {
		return nil, err
	}
	out := make([]impacted, 0, len(resources))
	for _, r := range resources {
		item := impacted{Operation: r.K8SOperation, Resource: r.UnstructuredObj.Object}
		if r.K8SOperation == argolua.PatchOperation {
			newBytes, err := json.Marshal(r.UnstructuredObj)
			if err != nil {
				return nil, err
			}
			// server/application/application.go patchResource and splitStatusPatch.
			diff, err := jsonpatch.CreateMergePatch(liveBytes, newBytes)
			if err != nil {
				return nil, fmt.Errorf("error calculating merge patch: %w", err)
			}
			item.MergePatch = diff
			if string(diff) != "{}" { // patchResource sends nothing for an empty patch
				item.NonStatusPatch, item.StatusPatch, err = splitStatusPatch(diff)
				if err != nil {
					return nil, err
				}
			}
		}
		out = append(out, item)
	}
	return out, nil
}

// splitStatusPatch is server/application/application.go's (unexported there).
func splitStatusPatch(patch []byte) ([]byte, []byte, error) {
	var obj map[string]any
	if err := json.Unmarshal(patch, &obj); err != nil {
		return nil, nil, err
	}
	var nonStatusPatch, statusPatch []byte
	var err error
	if statusVal, ok := obj["status"]; ok {
		statusPatch, err = json.Marshal(map[string]any{"status": statusVal})
		if err != nil {
			return nil, nil, err
		}
		delete(obj, "status")
		if len(obj) > 0 {
			nonStatusPatch, err = json.Marshal(obj)
			if err != nil {
				return nil, nil, err
			}
		}
	} else {
		nonStatusPatch = patch
	}
	return nonStatusPatch, statusPatch, nil
}

func newEngine(source string) (engine, error) {
	info, err := os.Stat(source)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return newConfigMapEngine(source)
	}
	// Ask the VM how it runs a built-in health script (argoproj.io/Rollout ships one).
	rollout := &unstructured.Unstructured{}
	rollout.SetAPIVersion("argoproj.io/v1alpha1")
	rollout.SetKind("Rollout")
	script, useOpenLibs, err := argolua.VM{}.GetHealthScript(rollout)
	if err != nil || script == "" {
		return nil, fmt.Errorf("argo-cd's built-in Rollout health script is missing: %v", err)
	}
	return filesEngine{dir: source, healthOpenLibs: useOpenLibs}, nil
}

func run(e engine, req request) (any, error) {
	obj := &unstructured.Unstructured{}
	// The live object as the API server and controller hold it: unstructured from JSON
	// (integers are int64, floats float64).
	if err := obj.UnmarshalJSON(req.Obj); err != nil {
		return nil, fmt.Errorf("object: %w", err)
	}
	switch req.Op {
	case "health":
		return e.health(obj)
	case "discovery":
		return e.discovery(obj)
	case "action":
		if req.Action == "" {
			return nil, errors.New("action: no action name")
		}
		return e.action(obj, req.Action)
	}
	return nil, fmt.Errorf("unknown op %q", req.Op)
}

type result struct {
	Result any    `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: argocd-lua health|discovery SOURCE OBJ.json | action SOURCE OBJ.json ACTION | batch SOURCE < requests.json | version")
	os.Exit(2)
}

func main() {
	log.SetLevel(log.WarnLevel) // the settings manager logs its informers at info
	log.SetOutput(os.Stderr)
	if len(os.Args) < 2 {
		usage()
	}
	op := os.Args[1]
	if op == "version" {
		fmt.Printf("{\"argocd\": %q}\n", ArgoCDVersion)
		return
	}
	if len(os.Args) < 3 {
		usage()
	}
	e, err := newEngine(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-lua:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	if op == "batch" {
		input, err := io.ReadAll(os.Stdin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "argocd-lua:", err)
			os.Exit(1)
		}
		var reqs []request
		if err := json.Unmarshal(input, &reqs); err != nil {
			fmt.Fprintln(os.Stderr, "argocd-lua: requests:", err)
			os.Exit(1)
		}
		results := make([]result, len(reqs))
		for i, req := range reqs {
			out, err := run(e, req)
			if err != nil {
				results[i] = result{Error: err.Error()}
			} else {
				results[i] = result{Result: out}
			}
		}
		if err := enc.Encode(results); err != nil {
			os.Exit(1)
		}
		return
	}
	req := request{Op: op}
	switch {
	case op == "action" && len(os.Args) == 5:
		req.Action = os.Args[4]
	case op != "action" && len(os.Args) == 4:
	default:
		usage()
	}
	req.Obj, err = os.ReadFile(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-lua:", err)
		os.Exit(1)
	}
	out, err := run(e, req)
	if err != nil {
		_ = enc.Encode(result{Error: err.Error()})
		os.Exit(1)
	}
	_ = enc.Encode(out)
}
