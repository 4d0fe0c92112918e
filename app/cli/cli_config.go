package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// envConfig names the configuration file when --config is not given.
const envConfig = "RELEASEDESK_CONFIG"

// A server's settings may live in a YAML file (--config), so that a
// service unit holds one path and no address with a password in its
// command line:
//
//	store: postgres://releasedesk@db.internal/releasedesk
//	secret-key-file: /etc/releasedesk/secret.key
//	addr: 0.0.0.0:7788
//	tls-cert: /etc/releasedesk/desk.crt
//	tls-key: /etc/releasedesk/desk.key
//
// Each key is a flag, and fills the flag of that name of the command run
// when neither the command line nor the flag's environment variable gave
// it: command line, then environment, then the file, then the default. One
// file serves every command: a key that is a flag of another command only
// (secret-key-file for `events stats`) is left for that one.

// configFlag adds the persistent --config.
func (c *cli) configFlag(root *cobra.Command) {
	root.PersistentFlags().StringVar(&c.configFile, "config", "", "a YAML file of settings, each named as a flag "+
		"(store:, secret-key-file:, addr:, ...); the command line and the environment win over it; default $"+envConfig)
}

// flagEnvironment is the environment variable that stands for a flag, for
// the flags that have one.
var flagEnvironment = map[string]string{"store": envStore, "secret-key-file": envSecretKey}

// applyConfig fills cmd's unset flags from the configuration file, if one
// is named. An unknown key, or a value its flag refuses, is an error that
// names the file and the key, and nothing runs.
func (c *cli) applyConfig(cmd *cobra.Command) error {
	path := c.configFile
	if !cmd.Flags().Changed("config") {
		path = os.Getenv(envConfig)
	}
	if path == "" {
		return nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return usageError{fmt.Errorf("--config: %w", err)}
	}
	settings, err := parseConfig(raw)
	if err != nil {
		return usageError{fmt.Errorf("--config %s: %w", path, err)}
	}
	flags := cmd.Flags()
	known := settingNames(cmd.Root())
	for _, key := range slices.Sorted(maps.Keys(settings)) {
		if !known[key] {
			return usageError{fmt.Errorf("--config %s: %q is not a setting of releasedesk (its settings: %s)",
				path, key, strings.Join(slices.Sorted(maps.Keys(known)), ", "))}
		}
		f := flags.Lookup(key)
		if f == nil {
			continue // another command's
		}
		if env := flagEnvironment[key]; f.Changed || env != "" && os.Getenv(env) != "" {
			continue
		}
		if err := flags.Set(key, settings[key]); err != nil {
			return usageError{fmt.Errorf("--config %s: %s: %w", path, key, err)}
		}
	}
	return nil
}

// parseConfig reads a file of one mapping of names to scalar values.
func parseConfig(raw []byte) (map[string]string, error) {
	var doc map[string]yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("not a YAML mapping of settings: %w", err)
	}
	out := make(map[string]string, len(doc))
	for key, node := range doc {
		if node.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s: is not a single value (line %d)", key, node.Line)
		}
		out[key] = node.Value
	}
	return out, nil
}

// settingNames are the flags a file may set: every command's, but for
// --config itself and --help.
func settingNames(root *cobra.Command) map[string]bool {
	names := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	delete(names, "config")
	delete(names, "help")
	return names
}
