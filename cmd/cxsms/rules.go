package main

import (
	"fmt"
	"os"

	"github.com/cxsms/cxsms/domain/rules"
)

// loadRules reads RULES_FILE, or takes the embedded default. A bad file is an
// error naming the field, and the command does not start.
func loadRules(cfg config) (*rules.Rules, error) {
	if cfg.RulesFile == "" {
		return rules.Default(), nil
	}
	data, err := os.ReadFile(cfg.RulesFile)
	if err != nil {
		return nil, fmt.Errorf("RULES_FILE: %w", err)
	}
	r, err := rules.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("RULES_FILE %s: %w", cfg.RulesFile, err)
	}
	return r, nil
}
