package domain

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func receiptTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseReceipt(t *testing.T) {
	tests := []struct {
		name, text string
		want       Receipt
		submit     string // RFC 3339, "" for zero
		done       string
	}{
		{
			name:   "SMPP 3.4 appendix B",
			text:   "id:0123456789 sub:001 dlvrd:001 submit date:2405060700 done date:2405060708 stat:DELIVRD err:000 text:Hello world",
			want:   Receipt{ID: "0123456789", Sub: "001", Dlvrd: "001", Stat: "DELIVRD", Err: "000", Text: "Hello world"},
			submit: "2024-05-06T07:00:00Z", done: "2024-05-06T07:08:00Z",
		},
		{
			name: "any order",
			text: "stat:UNDELIV err:001 id:abc done date:2405060708",
			want: Receipt{ID: "abc", Stat: "UNDELIV", Err: "001"},
			done: "2024-05-06T07:08:00Z",
		},
		{
			name: "only an id",
			text: "id:abc",
			want: Receipt{ID: "abc"},
		},
		{
			name:   "dates without the space",
			text:   "id:1 submitdate:2405060700 donedate:2405060708 stat:DELIVRD",
			want:   Receipt{ID: "1", Stat: "DELIVRD"},
			submit: "2024-05-06T07:00:00Z", done: "2024-05-06T07:08:00Z",
		},
		{
			name:   "dates with an underscore",
			text:   "id:1 submit_date:2405060700 done_date:2405060708",
			want:   Receipt{ID: "1"},
			submit: "2024-05-06T07:00:00Z", done: "2024-05-06T07:08:00Z",
		},
		{
			name:   "keys in any case",
			text:   "ID:1 SUB:001 Dlvrd:001 Submit Date:2405060700 DONE DATE:2405060708 STAT:DELIVRD Err:000 Text:Hi",
			want:   Receipt{ID: "1", Sub: "001", Dlvrd: "001", Stat: "DELIVRD", Err: "000", Text: "Hi"},
			submit: "2024-05-06T07:00:00Z", done: "2024-05-06T07:08:00Z",
		},
		{
			name:   "empty text before stat",
			text:   "id:1 sub:001 dlvrd:001 submit date:2405060700 done date:2405060708 text: stat:DELIVRD err:000",
			want:   Receipt{ID: "1", Sub: "001", Dlvrd: "001", Stat: "DELIVRD", Err: "000"},
			submit: "2024-05-06T07:00:00Z", done: "2024-05-06T07:08:00Z",
		},
		{
			name: "text before stat ends at stat",
			text: "id:1 text:see you at 10:30 stat:DELIVRD err:000",
			want: Receipt{ID: "1", Text: "see you at 10:30", Stat: "DELIVRD", Err: "000"},
		},
		{
			name: "text runs to the end and keeps anything",
			text: "id:1 stat:DELIVRD err:000 text:Your id: 42 stat:FAKE, note: call me err:9",
			want: Receipt{ID: "1", Stat: "DELIVRD", Err: "000", Text: "Your id: 42 stat:FAKE, note: call me err:9"},
		},
		{
			name: "vendor fields after err",
			text: "id:1 stat:DELIVRD err:000 mcc:310 mnc:260 MSC-Addr:4412 text:Hi",
			want: Receipt{ID: "1", Stat: "DELIVRD", Err: "000", Text: "Hi", Extra: map[string]string{"mcc": "310", "mnc": "260", "msc-addr": "4412"}},
		},
		{
			name: "vendor fields after text are text",
			text: "id:1 stat:DELIVRD err:000 text:Hi mcc:310",
			want: Receipt{ID: "1", Stat: "DELIVRD", Err: "000", Text: "Hi mcc:310"},
		},
		{
			name:   "missing sub, dlvrd, text and err",
			text:   "id:77 submit date:2405060700 done date:2405060708 stat:EXPIRED",
			want:   Receipt{ID: "77", Stat: "EXPIRED"},
			submit: "2024-05-06T07:00:00Z", done: "2024-05-06T07:08:00Z",
		},
		{
			name: "trailing NULs",
			text: "id:1 stat:DELIVRD err:000 text:\x00\x00\x00\x00",
			want: Receipt{ID: "1", Stat: "DELIVRD", Err: "000"},
		},
		{
			name: "NULs between fields and inside text",
			text: "id:1\x00stat:DELIVRD\x00err:000\x00text:a\x00b\x00",
			want: Receipt{ID: "1", Stat: "DELIVRD", Err: "000", Text: "ab"},
		},
		{
			name: "newlines and tabs as separators",
			text: "id:1\r\nstat:DELIVRD\terr:000\n",
			want: Receipt{ID: "1", Stat: "DELIVRD", Err: "000"},
		},
		{
			name: "hex id keeps its case and zeros",
			text: "id:00Ab12Cf stat:ACCEPTD",
			want: Receipt{ID: "00Ab12Cf", Stat: "ACCEPTD"},
		},
		{
			name: "id with colons",
			text: "id:a:b:c stat:DELIVRD",
			want: Receipt{ID: "a:b:c", Stat: "DELIVRD"},
		},
		{
			name: "space after the colon",
			text: "id: 42 stat: DELIVRD",
			want: Receipt{ID: "42", Stat: "DELIVRD"},
		},
		{
			name: "a repeated field is ignored",
			text: "id:1 stat:DELIVRD stat:UNDELIV err:000",
			want: Receipt{ID: "1", Stat: "DELIVRD", Err: "000"},
		},
		{
			name: "words before the first field are ignored",
			text: "DLR from SMSC id:1 stat:DELIVRD",
			want: Receipt{ID: "1", Stat: "DELIVRD"},
		},
		{
			name: "all-zero dates",
			text: "id:1 submit date:0000000000 done date:00000000000000 stat:DELIVRD",
			want: Receipt{ID: "1", Stat: "DELIVRD"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.SubmitDate, tt.want.DoneDate = receiptTime(tt.submit), receiptTime(tt.done)
			got, err := ParseReceipt(tt.text)
			if err != nil {
				t.Fatalf("ParseReceipt: %v", err)
			}
			if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", tt.want); g != w {
				t.Errorf("\n got %s\nwant %s", g, w)
			}
		})
	}
}

func TestParseReceiptErrors(t *testing.T) {
	tests := []struct{ name, text string }{
		{"empty", ""},
		{"no id", "sub:001 dlvrd:001 stat:DELIVRD err:000"},
		{"empty id", "id: sub:001 stat:DELIVRD"},
		{"empty id at the end", "stat:DELIVRD id:\x00\x00"},
		{"id with a space", "id:12 34 stat:DELIVRD"},
		{"id with a NUL inside", "id:12\x0034 stat:DELIVRD"},
		{"id with a control character", "id:12\x0134 stat:DELIVRD"},
		{"id too long", "id:" + strings.Repeat("f", 129) + " stat:DELIVRD"},
		{"id only inside text", "stat:DELIVRD text:id:1"},
		{"no separator", "xid:1 stat:DELIVRD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := ParseReceipt(tt.text)
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrNoMessageID) || pe.Field != "id" {
				t.Fatalf("got %+v, %v; want a ParseError on id wrapping ErrNoMessageID", rc, err)
			}
			if rc.ID != "" {
				t.Errorf("ID = %q alongside the error", rc.ID)
			}
		})
	}
	// The rest of a receipt stays readable, for a JSON report that names the
	// message itself.
	rc, _ := ParseReceipt("stat:UNDELIV err:012")
	if rc.Stat != "UNDELIV" || rc.Err != "012" {
		t.Errorf("fields lost with the error: %+v", rc)
	}
}

func TestParseReceiptDate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2405060708", "2024-05-06T07:08:00Z"},
		{"240506070809", "2024-05-06T07:08:09Z"},
		{"20240506070809", "2024-05-06T07:08:09Z"},
		{"202405060701", "2024-05-06T07:01:00Z"},       // YYYYMMDDhhmm: no month 24
		{"201203041506", "2020-12-03T04:15:06Z"},       // both readings fit: YYMMDDhhmmss wins
		{"202413060701", ""},                           // neither fits
		{"240506070809508+", "2024-05-06T05:08:09.5Z"}, // 5 tenths, UTC+2h (8 quarter hours)
		{"240506070809000+", "2024-05-06T07:08:09Z"},
		{"240506070809104-", "2024-05-06T08:08:09.1Z"},
		{"240229235959000+", "2024-02-29T23:59:59Z"},
		{"240506070809000R", ""},
		{"0000000000", ""},
		{"000000000000", ""},
		{"00000000000000", ""},
		{"000000000000000+", ""},
		{"2413060708", ""},       // month 13
		{"2302290000", ""},       // 29 February 2023
		{"2405062500", ""},       // hour 25
		{"24050607080", ""},      // 11 digits
		{"24O5060708", ""},       // letter O
		{"2024-05-06", ""},       // not a receipt date
		{"240506070809999+", ""}, // 99 quarter hours
		{"", ""},
	}
	for _, tt := range tests {
		if got, want := parseReceiptDate(tt.in), receiptTime(tt.want); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseReceiptDate(%q) = %v, want %v", tt.in, got, want)
		}
	}
}
