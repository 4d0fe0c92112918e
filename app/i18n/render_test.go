package i18n

import (
	"testing"
	"unicode"

	"releasedesk/events/text"
	"releasedesk/runner"
)

// TestChineseRendersThroughTheCatalog: a translated format is used with
// its reordered arguments, nested texts (a runner rule's refusal inside a
// field's reason) are Chinese too, numbers keep their English digits, and
// English is the format itself.
func TestChineseRendersThroughTheCatalog(t *testing.T) {
	zh := Chinese()
	version := text.New("version %s is already current on %s of %s", "20260101000000-abc1234", "prod", "shop")
	if got := version.In(zh); got != "版本 20260101000000-abc1234 已是 shop 的 prod 环境的当前版本" {
		t.Errorf("reordered: %q", got)
	}
	if got := version.In(nil); got != "version 20260101000000-abc1234 is already current on prod of shop" {
		t.Errorf("English: %q", got)
	}
	rule := runner.Reason(runner.ValidatePath("srv/www"))
	if rule.String() != `bad path "srv/www": not absolute` {
		t.Errorf("the rule's English: %q", rule)
	}
	if got := text.New("%s: %s", "environments[0].path", rule).In(zh); got != `environments[0].path：路径无效 "srv/www"：不是绝对路径` {
		t.Errorf("nested rule: %q", got)
	}
	if got := text.New("position %d is past the log's end (%d)", 123456, 7890).In(zh); got != "位置 123456 超出了日志末尾（7890）" {
		t.Errorf("numbers: %q", got)
	}
	if got := text.New("a format no catalog has %d", 1).In(zh); got != "a format no catalog has 1" {
		t.Errorf("a missing translation is the English: %q", got)
	}
}

// TestEveryTranslationIsChinese: each entry says something in Chinese
// (a translation left in English would pass the placeholder check), bar
// the few that are symbols and names in every language.
func TestEveryTranslationIsChinese(t *testing.T) {
	same := map[string]bool{"%.1f MiB": true, "null": true}
	zh, err := parse(zhCNFile)
	if err != nil {
		t.Fatal(err)
	}
	for en, tr := range zh {
		if same[en] {
			continue
		}
		if !hasHan(tr) && !hasFullWidth(tr) {
			t.Errorf("%q: the translation %q has no Chinese", en, tr)
		}
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

func hasFullWidth(s string) bool {
	for _, r := range s {
		if r >= 0xff00 && r <= 0xffef || r >= 0x3000 && r <= 0x303f {
			return true
		}
	}
	return false
}
