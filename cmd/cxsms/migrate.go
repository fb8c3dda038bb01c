package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/cxsms/cxsms/eventstore"
)

func migrate(ctx context.Context, cfg config, stdout io.Writer) error {
	pool, err := openPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	applied, err := eventstore.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "schema is up to date (version %d)\n", eventstore.LatestVersion())
		return nil
	}
	fmt.Fprintf(stdout, "applied %s\n", strings.Join(applied, ", "))
	return nil
}
