package transport

import (
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// openAPIDoc is the part of transport/openapi.yaml the tests check.
type openAPIDoc struct {
	OpenAPI    string `yaml:"openapi"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]any `yaml:"properties"`
			Required   []string       `yaml:"required"`
		} `yaml:"schemas"`
	} `yaml:"components"`
	Paths map[string]map[string]struct {
		OperationID string                    `yaml:"operationId"`
		Security    []map[string][]string     `yaml:"security"`
		Responses   map[string]map[string]any `yaml:"responses"`
	} `yaml:"paths"`
}

func loadOpenAPI(t *testing.T) (openAPIDoc, []byte) {
	t.Helper()
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPIDoc
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Fatalf("openapi version %q, want 3.0.x", doc.OpenAPI)
	}
	return doc, raw
}

// TestOpenAPIMatchesRoutes holds openapi.yaml's paths and methods against the route table that restRoutes
// registers, and checks that the router really serves each of them.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	var documented []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
			if op.OperationID == "" {
				t.Errorf("%s %s: no operationId", method, path)
			}
			var has2xx bool
			for code := range op.Responses {
				has2xx = has2xx || strings.HasPrefix(code, "2")
			}
			if !has2xx {
				t.Errorf("%s %s: no success response", method, path)
			}
			if len(op.Security) > 0 && op.Responses["401"] == nil {
				t.Errorf("%s %s: authenticated but no 401 documented", method, path)
			}
		}
	}
	s := &Server{mux: http.NewServeMux()}
	var registered []string
	for _, rt := range s.restTable() {
		registered = append(registered, rt.Pattern())
	}
	sort.Strings(documented)
	sort.Strings(registered)
	if !reflect.DeepEqual(documented, registered) {
		t.Fatalf("openapi.yaml and the route table differ:\n documented: %v\n registered: %v", documented, registered)
	}

	s.restRoutes()
	for _, p := range registered {
		method, path, _ := strings.Cut(p, " ")
		concrete := strings.ReplaceAll(path, "{id}", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")
		_, pattern := s.mux.Handler(httptest.NewRequest(method, concrete, nil))
		if pattern != p {
			t.Errorf("%s %s is served by %q, want %q", method, concrete, pattern, p)
		}
	}
}

// TestOpenAPISchemasMatchWireTypes holds each documented body against the Go type that encodes or decodes it:
// the same JSON field names, so that neither drifts from the other.
func TestOpenAPISchemasMatchWireTypes(t *testing.T) {
	doc, raw := loadOpenAPI(t)
	types := map[string]any{
		"RegisterRequest":   registerRequest{},
		"RegisterResponse":  registerResponse{},
		"LoginRequest":      loginRequest{},
		"RefreshRequest":    refreshRequest{},
		"Tokens":            tokensResponse{},
		"MPINRequest":       mpinRequest{},
		"SessionGrant":      sessionGrantResponse{},
		"Sample":            sampleJSON{},
		"Decision":          decisionJSON{},
		"SessionStatus":     statusResponse{},
		"ChallengeResponse": challengeResponse{},
		"Summary":           summaryResponse{},
		"FeedbackRequest":   feedbackRequest{},
		"FeedbackResponse":  feedbackResponse{},
		"Profile":           profileResponse{},
		"Latency":           latencyJSON{},
		"NodeStats":         nodeStatsJSON{},
		"Stats":             statsResponse{},
		"Error": struct {
			Error *WireError `json:"error"`
		}{},
	}
	for name, v := range types {
		sc, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s missing", name)
			continue
		}
		var props []string
		for p := range sc.Properties {
			props = append(props, p)
		}
		sort.Strings(props)
		if want := jsonFields(reflect.TypeOf(v)); !reflect.DeepEqual(props, want) {
			t.Errorf("schema %s properties %v, Go type %T fields %v", name, props, v, want)
		}
		for _, r := range sc.Required {
			if sc.Properties[r] == nil {
				t.Errorf("schema %s requires %q, which it does not define", name, r)
			}
		}
	}
	// Every local reference resolves.
	for _, line := range strings.Split(string(raw), "\n") {
		_, ref, ok := strings.Cut(line, "$ref: '#/components/")
		if !ok {
			continue
		}
		ref, _, _ = strings.Cut(ref, "'")
		kind, name, _ := strings.Cut(ref, "/")
		if !strings.Contains(string(raw), "\n  "+kind+":") || !strings.Contains(string(raw), "\n    "+name+":") {
			t.Errorf("unresolved reference #/components/%s", ref)
		}
	}
	// The error envelope's inner object is WireError.
	errProps := doc.Components.Schemas["Error"].Properties["error"].(map[string]any)["properties"].(map[string]any)
	var inner []string
	for p := range errProps {
		inner = append(inner, p)
	}
	sort.Strings(inner)
	if want := jsonFields(reflect.TypeOf(WireError{})); !reflect.DeepEqual(inner, want) {
		t.Errorf("Error.error properties %v, WireError fields %v", inner, want)
	}
}

// jsonFields lists the JSON names of a struct's encoded fields, sorted.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
