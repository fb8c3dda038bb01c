package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/cxsms/cxsms/eventstore"
)

// history prints a message's audit trail from the log, as a table.
func history(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: cxsms history MESSAGE_ID")
	}
	pool, err := openPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := eventstore.New(pool, eventstore.Options{Writers: 1})
	defer store.Close()
	recs, err := store.History(ctx, args[0])
	if errors.Is(err, eventstore.ErrNotFound) {
		return fmt.Errorf("no events for message %q", args[0])
	}
	if eventstore.NotMigrated(err) {
		// Not "unavailable", which it is to a sender: the database is up.
		return fmt.Errorf("the database has no cxsms tables yet: run `cxsms migrate` (`cxsms serve` migrates too)")
	}
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tOCCURRED\tRECEIVED\tSTATUS\tRAW\tCARRIER\tERROR\tFORMAT\tEVENT ID")
	for i, r := range recs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1,
			r.OccurredAt.UTC().Format(time.RFC3339Nano), r.ReceivedAt.UTC().Format(time.RFC3339Nano),
			r.Status, dash(r.RawStatus), dash(r.CarrierCode), dash(r.ErrorCode), r.Format, r.EventID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	for i, r := range recs {
		fmt.Fprintf(stdout, "#%d payload: %s\n", i+1, r.Raw)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
