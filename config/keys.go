package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// key is one leaf of the configuration: its dotted YAML name, its environment variable and a setter.
type key struct {
	name  string
	env   string
	usage string
	set   func(string) error
}

var durationType = reflect.TypeOf(time.Duration(0))

// keysOf walks cfg's struct tree by its yaml tags, so that every key of the file has a flag and a variable
// without a hand-kept list that could drift.
func keysOf(cfg *Config) []key {
	var out []key
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			name := tag
			if prefix != "" {
				name = prefix + "." + tag
			}
			fv := v.Field(i)
			if fv.Kind() == reflect.Struct {
				walk(fv, name)
				continue
			}
			out = append(out, key{
				name:  name,
				env:   "BEHAVIOR_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(name)),
				usage: "overrides " + name + " of the configuration file",
				set:   setter(fv),
			})
		}
	}
	walk(reflect.ValueOf(cfg).Elem(), "")
	return out
}

func keyByName(keys []key, name string) (key, bool) {
	for _, k := range keys {
		if k.name == name {
			return k, true
		}
	}
	return key{}, false
}

func setter(fv reflect.Value) func(string) error {
	return func(s string) error {
		s = strings.TrimSpace(s)
		switch {
		case fv.Type() == durationType:
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("not a duration (such as 500ms, 2s, 15m)")
			}
			fv.SetInt(int64(d))
		case fv.Kind() == reflect.String:
			fv.SetString(s)
		case fv.Kind() == reflect.Int:
			n, err := strconv.Atoi(s)
			if err != nil {
				return fmt.Errorf("not a whole number")
			}
			fv.SetInt(int64(n))
		case fv.Kind() == reflect.Float64:
			x, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("not a number")
			}
			fv.SetFloat(x)
		case fv.Kind() == reflect.Bool:
			b, err := strconv.ParseBool(s)
			if err != nil {
				return fmt.Errorf("not true or false")
			}
			fv.SetBool(b)
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
			var parts []string
			for _, p := range strings.Split(s, ",") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, p)
				}
			}
			fv.Set(reflect.ValueOf(parts))
		default:
			return fmt.Errorf("unsupported type %s", fv.Type())
		}
		return nil
	}
}
