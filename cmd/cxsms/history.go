package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

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
			r.Status, cell(r.RawStatus), cell(r.CarrierCode), cell(r.ErrorCode), r.Format, cell(r.EventID))
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

// cell is a field as the table shows it: "-" for none, and quoted with Go
// escapes when it holds a character a terminal would act on or tabwriter
// would split at (a carrier's "\x1b[2J" cleared the operator's screen).
func cell(s string) string {
	if s == "" {
		return "-"
	}
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}
