package main

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pythonHeading is the README section whose python block creates the same
// function in CareerVP's Python CDK app.
const pythonHeading = "## In CareerVP's Python CDK app instead"

// pythonBlock returns the python code block of that README section,
// without its comments.
func pythonBlock(t *testing.T, readme string) (code, withComments string) {
	t.Helper()
	i := strings.Index(readme, "\n"+pythonHeading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no section %q", pythonHeading)
	}
	section := readme[i+1:]
	if j := strings.Index(section[len(pythonHeading):], "\n## "); j >= 0 {
		section = section[:len(pythonHeading)+j]
	}
	start := strings.Index(section, "\n```python\n")
	if start < 0 {
		t.Fatalf("section %q has no ```python block", pythonHeading)
	}
	block := section[start+len("\n```python\n"):]
	end := strings.Index(block, "\n```\n")
	if end < 0 {
		t.Fatalf("the python block of %q is not closed", pythonHeading)
	}
	block = block[:end+1]
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		// The block's strings hold no '#', so a '#' starts a comment.
		if k := strings.Index(l, "#"); k >= 0 {
			l = l[:k]
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n"), block
}

// pythonFunction is what the python block says about the function.
type pythonFunction struct {
	runtime, architecture, handler, aliasName, deployment string
	memory, timeout                                       float64
	tracing                                               bool
	env, actions                                          []string
	routes                                                map[string]string // route key → authorization type
}

// One match of re in code, or a test failure naming what is missing.
func one(t *testing.T, code, what string, re *regexp.Regexp) []string {
	t.Helper()
	m := re.FindAllStringSubmatch(code, -1)
	if len(m) != 1 {
		t.Fatalf("the python block has %d %s (%s), want 1", len(m), what, re)
	}
	return m[0]
}

var (
	pyRuntime      = regexp.MustCompile(`runtime=_lambda\.Runtime\.([A-Z0-9_]+)`)
	pyArchitecture = regexp.MustCompile(`architecture=_lambda\.Architecture\.([A-Z0-9_]+)`)
	pyHandler      = regexp.MustCompile(`handler="([^"]*)"`)
	pyMemory       = regexp.MustCompile(`memory_size=(\d+)`)
	pyTimeout      = regexp.MustCompile(`timeout=Duration\.seconds\((\d+)\)`)
	pyTracing      = regexp.MustCompile(`tracing=_lambda\.Tracing\.ACTIVE\b`)
	pyEnvironment  = regexp.MustCompile(`(?s)environment=\{(.*?)\}`)
	pyEnvKey       = regexp.MustCompile(`"([A-Za-z0-9_]+)"\s*:`)
	pyActions      = regexp.MustCompile(`(?s)actions=\[(.*?)\]`)
	pyString       = regexp.MustCompile(`"([^"]*)"`)
	pyAlias        = regexp.MustCompile(`(\w+) = _lambda\.Alias\([^)]*alias_name="([^"]*)",\s*version=(\w+)\.current_version\)`)
	pyFunctionVar  = regexp.MustCompile(`(\w+) = _lambda\.Function\(`)
	pyDeployGroup  = regexp.MustCompile(`(?s)codedeploy\.LambdaDeploymentGroup\(.*?alias=(\w+),.*?LambdaDeploymentConfig\.([A-Z0-9_]+)`)
	pyIntegration  = regexp.MustCompile(`(\w+) = integrations\.HttpLambdaIntegration\(\s*"[^"]*",\s*(\w+),`)
	pyJWT          = regexp.MustCompile(`(\w+) = authorizers\.HttpJwtAuthorizer\(`)
	pyAddRoutes    = regexp.MustCompile(`(?s)self\.api\.add_routes\((.*?)\n\)`)
	pyPath         = regexp.MustCompile(`path="([^"]*)"`)
	pyMethods      = regexp.MustCompile(`methods=\[([^\]]*)\]`)
	pyMethod       = regexp.MustCompile(`apigwv2\.HttpMethod\.([A-Z]+)`)
	pyRouteTarget  = regexp.MustCompile(`integration=(\w+)`)
	pyAuthorizer   = regexp.MustCompile(`authorizer=([\w.]+(?:\(\))?)`)
)

// Python CDK names → CloudFormation values.
var (
	pyRuntimes      = map[string]string{"PROVIDED_AL2023": "provided.al2023", "PROVIDED_AL2": "provided.al2"}
	pyArchitectures = map[string]string{"ARM_64": "arm64", "X86_64": "x86_64"}
)

func parsePythonBlock(t *testing.T, code string) pythonFunction {
	t.Helper()
	var f pythonFunction
	var ok bool
	if f.runtime, ok = pyRuntimes[one(t, code, "runtime", pyRuntime)[1]]; !ok {
		t.Fatalf("unknown runtime %s", one(t, code, "runtime", pyRuntime)[1])
	}
	if f.architecture, ok = pyArchitectures[one(t, code, "architecture", pyArchitecture)[1]]; !ok {
		t.Fatalf("unknown architecture %s", one(t, code, "architecture", pyArchitecture)[1])
	}
	f.handler = one(t, code, "handler", pyHandler)[1]
	f.memory, _ = strconv.ParseFloat(one(t, code, "memory_size", pyMemory)[1], 64)
	f.timeout, _ = strconv.ParseFloat(one(t, code, "timeout", pyTimeout)[1], 64)
	f.tracing = pyTracing.MatchString(code)
	for _, m := range pyEnvKey.FindAllStringSubmatch(one(t, code, "environment", pyEnvironment)[1], -1) {
		f.env = append(f.env, m[1])
	}
	for _, list := range pyActions.FindAllStringSubmatch(code, -1) {
		for _, m := range pyString.FindAllStringSubmatch(list[1], -1) {
			f.actions = append(f.actions, m[1])
		}
	}

	// The routes invoke the alias of the function, which the deployment
	// group shifts.
	fnVar := one(t, code, "_lambda.Function", pyFunctionVar)[1]
	alias := one(t, code, "_lambda.Alias on current_version", pyAlias)
	aliasVar := alias[1]
	f.aliasName = alias[2]
	if alias[3] != fnVar {
		t.Errorf("the alias is on %s's version, want %s's", alias[3], fnVar)
	}
	group := one(t, code, "codedeploy.LambdaDeploymentGroup", pyDeployGroup)
	if group[1] != aliasVar {
		t.Errorf("the deployment group shifts %s, want the alias %s", group[1], aliasVar)
	}
	f.deployment = group[2]
	integration := one(t, code, "HttpLambdaIntegration", pyIntegration)
	if integration[2] != aliasVar {
		t.Errorf("the integration invokes %s, want the alias %s", integration[2], aliasVar)
	}
	jwtVar := one(t, code, "HttpJwtAuthorizer", pyJWT)[1]
	f.routes = map[string]string{}
	for _, call := range pyAddRoutes.FindAllStringSubmatch(code, -1) {
		args := call[1]
		path := one(t, args, "path in add_routes", pyPath)[1]
		if target := one(t, args, "integration in add_routes", pyRouteTarget)[1]; target != integration[1] {
			t.Errorf("routes on %s go to %s, want %s", path, target, integration[1])
		}
		auth := ""
		switch a := one(t, args, "authorizer in add_routes", pyAuthorizer)[1]; a {
		case jwtVar:
			auth = "JWT"
		case "apigwv2.HttpNoneAuthorizer()":
			auth = "NONE"
		default:
			t.Errorf("routes on %s: authorizer %s", path, a)
		}
		for _, m := range pyMethod.FindAllStringSubmatch(one(t, args, "methods in add_routes", pyMethods)[1], -1) {
			f.routes[m[1]+" "+path] = auth
		}
	}
	return f
}

// stackFunction is the same description read from a synthesized template.
func stackFunction(t *testing.T, tmpl map[string]interface{}) pythonFunction {
	t.Helper()
	_, fn := only(t, tmpl, "AWS::Lambda::Function")
	p := fn["Properties"].(obj)
	f := pythonFunction{
		runtime:      p["Runtime"].(string),
		architecture: p["Architectures"].(arr)[0].(string),
		handler:      p["Handler"].(string),
		memory:       p["MemorySize"].(float64),
		timeout:      p["Timeout"].(float64),
		tracing:      p["TracingConfig"].(obj)["Mode"] == "Active",
		routes:       map[string]string{},
	}
	for k := range p["Environment"].(obj)["Variables"].(obj) {
		f.env = append(f.env, k)
	}
	_, alias := only(t, tmpl, "AWS::Lambda::Alias")
	f.aliasName = alias["Properties"].(obj)["Name"].(string)
	_, group := only(t, tmpl, "AWS::CodeDeploy::DeploymentGroup")
	f.deployment = strings.TrimPrefix(group["Properties"].(obj)["DeploymentConfigName"].(string), deploymentConfigPrefix)
	_, policy := only(t, tmpl, "AWS::IAM::Policy")
	for _, s := range asList(policy["Properties"].(obj)["PolicyDocument"].(obj)["Statement"]) {
		for _, a := range asList(s.(obj)["Action"]) {
			// Active tracing adds these in Python as in Go.
			if a := a.(string); !strings.HasPrefix(a, "xray:") {
				f.actions = append(f.actions, a)
			}
		}
	}
	for key, r := range routes(t, tmpl) {
		f.routes[key] = r["AuthorizationType"].(string)
	}
	return f
}

// comparePython reports every way the python block and the stack differ.
func comparePython(py, stack pythonFunction) []string {
	var diffs []string
	same := func(what string, a, b interface{}) {
		if canonicalString(a) != canonicalString(b) {
			diffs = append(diffs, what+": python "+canonicalString(a)+", stack "+canonicalString(b))
		}
	}
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	same("runtime", py.runtime, stack.runtime)
	same("architecture", py.architecture, stack.architecture)
	same("handler", py.handler, stack.handler)
	same("memory", py.memory, stack.memory)
	same("timeout", py.timeout, stack.timeout)
	same("active tracing", py.tracing, stack.tracing)
	same("environment variables", sorted(py.env), sorted(stack.env))
	same("IAM actions", sorted(py.actions), sorted(stack.actions))
	same("alias", py.aliasName, stack.aliasName)
	same("deployment config", strings.ReplaceAll(strings.ToLower(py.deployment), "_", ""), strings.ToLower(stack.deployment))
	same("routes", py.routes, stack.routes)
	return diffs
}

func canonicalString(v interface{}) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case []string:
		return "[" + strings.Join(v, " ") + "]"
	case map[string]string:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(k + "=" + v[k] + "; ")
		}
		return "{" + b.String() + "}"
	}
	return "?"
}

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPythonBlockMatchesTheStack(t *testing.T) {
	code, withComments := pythonBlock(t, readme(t))
	py := parsePythonBlock(t, code)
	for _, d := range comparePython(py, stackFunction(t, synth(t, "standalone").json)) {
		t.Error(d)
	}
	// The variables the Go stack sets only with withoutListBucket: the
	// block says when to set them.
	defaults := stackFunction(t, synth(t, "standalone").json).env
	for _, name := range stackFunction(t, synth(t, "without-list-bucket").json).env {
		if !slices.Contains(defaults, name) && !strings.Contains(withComments, `"`+name+`": "true"`) {
			t.Errorf("the python block never names %s, which the stack sets with withoutListBucket", name)
		}
	}
}

// The comparison must see a drift on either side.
func TestPythonBlockComparisonSeesDrift(t *testing.T) {
	code, _ := pythonBlock(t, readme(t))
	stack := stackFunction(t, synth(t, "standalone").json)
	for what, edit := range map[string]func(string) string{
		"memory":       func(s string) string { return strings.Replace(s, "memory_size=256", "memory_size=512", 1) },
		"timeout":      func(s string) string { return strings.Replace(s, "Duration.seconds(10)", "Duration.seconds(30)", 1) },
		"architecture": func(s string) string { return strings.Replace(s, "Architecture.ARM_64", "Architecture.X86_64", 1) },
		"environment":  func(s string) string { return strings.Replace(s, `"CORS_ORIGINS"`, `"CORS_ORIGIN"`, 1) },
		"actions":      func(s string) string { return strings.Replace(s, `"dynamodb:GetItem"`, `"dynamodb:Query"`, 1) },
		"routes": func(s string) string {
			return strings.Replace(s, "apigwv2.HttpMethod.HEAD", "apigwv2.HttpMethod.POST", 1)
		},
	} {
		changed := edit(code)
		if changed == code {
			t.Errorf("%s: the edit found nothing to change in the block", what)
			continue
		}
		if d := comparePython(parsePythonBlock(t, changed), stack); len(d) == 0 {
			t.Errorf("%s changed in the python block: no difference seen", what)
		}
	}
	// And on the stack's side.
	drifted := stack
	drifted.env = append(slices.Clone(stack.env), "NEW_SETTING")
	drifted.memory = 512
	if d := comparePython(parsePythonBlock(t, code), drifted); len(d) != 2 {
		t.Errorf("a new variable and memory in the stack: %d differences, want 2: %q", len(d), d)
	}
}

// The block is Python (where python3 is there to say so).
func TestPythonBlockParses(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	_, block := pythonBlock(t, readme(t))
	// Indented as a method body would be: the block is the inside of one.
	src := "class S:\n    def __init__(self):\n" + indent(block, "        ")
	cmd := exec.Command(python, "-c", "import ast, sys; ast.parse(sys.stdin.read())") // #nosec G204 -- python3 from PATH, a fixed script
	cmd.Stdin = strings.NewReader(src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("python3 cannot parse the block: %v\n%s", err, out)
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}
