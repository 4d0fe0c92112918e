package i18n

import (
	"testing"

	"releasedesk/events/text"
)

// TestForMatchesAcceptLanguage: every Chinese the UI or a browser may send
// reads Chinese; English, other languages, nothing and rubbish read English.
func TestForMatchesAcceptLanguage(t *testing.T) {
	for _, h := range []string{"zh-CN", "zh", "zh-Hans", "zh-TW", "zh-Hant-HK", "zh-CN,zh;q=0.9,en;q=0.8", "fr,zh-CN;q=0.5"} {
		if For(h) == nil {
			t.Errorf("%q reads English", h)
		}
	}
	for _, h := range []string{"", "en", "en-US", "en-GB,zh;q=0.1", "fr", "*", "@@@", "de-CH;q=0.9"} {
		if For(h) != nil {
			t.Errorf("%q reads Chinese", h)
		}
	}
	if got := text.New("%s: %s", "f", "r").In(For("zh-CN")); got != "f：r" {
		t.Fatalf("the catalog is not used: %q", got)
	}
}
