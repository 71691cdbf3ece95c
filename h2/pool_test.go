package h2

import (
	"context"
	"testing"
)

func TestNewEngine(t *testing.T) {
	tests := []struct {
		engine Engine
		want   Engine // "": New fails
	}{
		{"", EngineOwn},
		{EngineOwn, EngineOwn},
		{EngineXNet, EngineXNet},
		{"x/net/http2", ""},
	}
	for _, tt := range tests {
		p, err := New(Config{Address: "upstream.test:80", Engine: tt.engine})
		if tt.want == "" {
			if err == nil {
				t.Errorf("Engine %q: New succeeded, want an error", tt.engine)
				p.Shutdown(context.Background())
			}
			continue
		}
		if err != nil {
			t.Errorf("Engine %q: %v", tt.engine, err)
			continue
		}
		if p.cfg.Engine != tt.want || (p.t2 != nil) != (tt.want == EngineXNet) {
			t.Errorf("Engine %q: runs %q (x/net transport made: %v), want %q", tt.engine, p.cfg.Engine, p.t2 != nil, tt.want)
		}
		p.Shutdown(context.Background())
	}
}
