package certificate

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func sample() Certificate {
	return Certificate{AwardID: "ae-commission/2026-11/R-17/quota-club", RepID: "R-17", RepName: "Zoë Łukasiewicz",
		Badge: "quota-club", BadgeTitle: "Quota Club", ProgramID: "ae-commission", Program: "Account executive commission",
		Period: "2026-11", Issued: time.Date(2026, 11, 28, 15, 4, 5, 0, time.UTC), Title: "Certificate of achievement",
		VerifyHint: "Check it with: accrue certificate verify CODE"}
}

// pdfText extracts the text a PDF shows: it inflates every stream and
// reads the strings of its text operators (Tj), which fpdf writes in
// UTF-16BE for the embedded UTF-8 fonts.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	var out strings.Builder
	streams := regexp.MustCompile(`(?s)stream\r?\n(.*?)\r?\nendstream`).FindAllSubmatch(pdf, -1)
	if len(streams) == 0 {
		t.Fatal("no streams in the PDF")
	}
	for _, s := range streams {
		body := s[1]
		if r, err := zlib.NewReader(bytes.NewReader(body)); err == nil {
			if b, err := io.ReadAll(r); err == nil {
				body = b
			}
		}
		for _, m := range regexp.MustCompile(`(?s)\(((?:\\.|[^\\)])*)\)\s*Tj`).FindAllSubmatch(body, -1) {
			out.WriteString(decodePDFString(m[1]))
			out.WriteByte('\n')
		}
	}
	return out.String()
}

func decodePDFString(b []byte) string {
	var raw []byte
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 == len(b) {
			raw = append(raw, b[i])
			continue
		}
		i++
		switch c := b[i]; c {
		case 'n':
			raw = append(raw, '\n')
		case 'r':
			raw = append(raw, '\r')
		case 't':
			raw = append(raw, '\t')
		default:
			raw = append(raw, c)
		}
	}
	if len(raw)%2 != 0 {
		return string(raw)
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
	}
	return string(utf16.Decode(u))
}

// The rendered certificate shows the rep's name (outside Latin-1), the
// badge, the program, the period, the date and the code; it renders to
// the same bytes twice.
func TestRenderShowsWhatItCertifies(t *testing.T) {
	c := sample()
	code := Code(key, c.AwardID)
	pdf, err := Render(c, code)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", pdf[:min(20, len(pdf))])
	}
	text := pdfText(t, pdf)
	for _, want := range []string{"Zoë Łukasiewicz", "Quota Club", "Account executive commission · 2026-11",
		"Awarded on 28 November 2026", code, "Certificate of achievement"} {
		if !strings.Contains(text, want) {
			t.Errorf("the certificate does not show %q; its text:\n%s", want, text)
		}
	}
	again, _ := Render(c, code)
	if !bytes.Equal(pdf, again) {
		t.Error("rendering the same certificate twice gave different bytes")
	}
	if dir := os.Getenv("ACCRUE_CERTIFICATE_OUT"); dir != "" {
		// For a person to look at: the PDF, and a PNG where pdftoppm exists.
		p := filepath.Join(dir, "certificate.pdf")
		if err := os.WriteFile(p, pdf, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("pdftoppm", "-png", "-r", "60", "-singlefile", p, filepath.Join(dir, "certificate")).CombinedOutput(); err != nil {
			t.Logf("pdftoppm: %v %s", err, out)
		}
	}
}

func TestIssueAndVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := NewFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	is, err := NewIssuer(key, store)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := is.Issue(ctx, sample())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, rec.Code+".pdf")); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rec.URI, "file://") {
		t.Errorf("uri %q", rec.URI)
	}
	// As a person types it: lower case, no dashes, O for 0.
	typed := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(rec.Code, "-", ""), "0", "O"))
	got, err := is.Verify(ctx, typed)
	if err != nil {
		t.Fatalf("verify %q: %v", typed, err)
	}
	if got.RepName != "Zoë Łukasiewicz" || got.Badge != "quota-club" || got.AwardID != sample().AwardID {
		t.Errorf("verified %+v", got)
	}
	if !is.Check(rec.Code, sample().AwardID) || is.Check(rec.Code, "ae-commission/2026-11/R-18/quota-club") {
		t.Error("Check does not tell the award's code from another's")
	}

	// A code nobody issued.
	if _, err := is.Verify(ctx, "ABCD-EFGH-JKMN-PQRS"); !errors.Is(err, ErrUnknown) {
		t.Errorf("made-up code: %v, want ErrUnknown", err)
	}
	if _, err := is.Verify(ctx, "not a code"); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: %v, want ErrMalformed", err)
	}
	// A forged index entry: a code of someone's choosing for the award,
	// written without the key.
	forged := Record{Certificate: sample(), Code: "ABCD-EFGH-JKMN-PQR0"}
	forged.RepName = "Mallory"
	b := []byte(`{"award_id":"` + forged.AwardID + `","rep_name":"Mallory","code":"ABCD-EFGH-JKMN-PQR0"}`)
	if _, err := store.Put(ctx, "ABCD-EFGH-JKMN-PQR0.json", b); err != nil {
		t.Fatal(err)
	}
	if _, err := is.Verify(ctx, "ABCD-EFGH-JKMN-PQR0"); !errors.Is(err, ErrForged) {
		t.Errorf("forged entry: %v, want ErrForged", err)
	}
	// The real entry under another key: forged too.
	other, _ := NewIssuer([]byte("another key, also long enough"), store)
	if _, err := other.Verify(ctx, rec.Code); !errors.Is(err, ErrForged) {
		t.Errorf("another key: %v, want ErrForged", err)
	}
	if _, err := NewIssuer([]byte("short"), store); err == nil {
		t.Error("a 5-byte key was accepted")
	}
}
