package main

import "testing"

func TestCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "-"},
		{"DELIVRD", "DELIVRD"},
		{"Vodafone UK", "Vodafone UK"},
		{"né", "né"},
		{"\x1b[2J", `"\x1b[2J"`},
		{"a\tb", `"a\tb"`},
		{"line\nbreak", `"line\nbreak"`},
		{"\u202egnp.exe", `"\u202egnp.exe"`},
	}
	for _, tt := range tests {
		if got := cell(tt.in); got != tt.want {
			t.Errorf("cell(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
