package nudge

import (
	"errors"
	"strings"
	"testing"

	"github.com/accrue/accrue/internal/yamldoc"
)

// The shipped templates and delivery configuration parse, and every kind
// the stages emit has a template.
func TestShippedTemplates(t *testing.T) {
	tp, err := LoadTemplates("../../deploy/templates/messages.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for kind := range Examples {
		if tp.Kind(kind) == nil {
			t.Errorf("no template for %s", kind)
		}
	}
	if _, err := LoadPolicy("../../deploy/templates/delivery.yaml"); err != nil {
		t.Fatal(err)
	}
	v := tp.Variant(tp.Kind(KindNearNextTier), "fr-CA")
	subject, text, err := Render(v, "fr-CA", Examples[KindNearNextTier])
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Plus que 500,00\u00a0$\u00a0US avant le palier suivant" && !strings.Contains(subject, "500,00") {
		t.Errorf("subject %q", subject)
	}
	if !strings.Contains(text, "Account executive commission") {
		t.Errorf("text %q", text)
	}
	v = tp.Variant(tp.Kind(KindNearNextTier), "en-US")
	if _, text, _ = Render(v, "en-US", Examples[KindNearNextTier]); text != "You are $500.00 away from the tier in Account executive commission." {
		t.Errorf("en text %q", text)
	}
}

// A broken templates file is refused with every problem at its line and
// column: a misspelt key, an unknown channel, a template that does not
// parse, a field its kind does not have, a missing default variant.
func TestTemplatesProblems(t *testing.T) {
	doc := `default_locale: en
kinds:
  attainment_crossed:
    chanels: [push]
    locales:
      en:
        subject: "{{percent .threshold"
        text: "{{.rep.nam}}"
  badge:
    channels: [pigeon]
    locales:
      fr: {subject: "x", text: "y"}
`
	_, err := ParseTemplates("t.yaml", []byte(doc))
	var ps yamldoc.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err %v", err)
	}
	got := ps.Error()
	for _, want := range []string{
		`t.yaml:4:5: kinds.attainment_crossed.chanels: unknown key "chanels"; did you mean "channels"?`,
		`t.yaml:7:18: kinds.attainment_crossed.locales.en.subject:`,
		`t.yaml:8:15: kinds.attainment_crossed.locales.en.text: fails on the example attainment_crossed:`,
		`t.yaml:9:3: kinds.badge.locales: no variant for the default locale en`,
		`t.yaml:10:16: kinds.badge.channels[0]: unknown channel "pigeon"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}
