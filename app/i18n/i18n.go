package i18n

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"

	"releasedesk/events/text"
)

//go:embed zh-CN.json
var zhCNFile []byte

// The languages the server writes, English first: the default, and what
// an Accept-Language that asks for none of them gets.
var (
	supported = []language.Tag{language.English, language.SimplifiedChinese}
	matcher   = language.NewMatcher(supported)
	chinese   = mustPrinter(language.SimplifiedChinese, zhCNFile)
)

// For is the printer of the language an Accept-Language header asks for:
// nil (English: Text.In(nil) is the text's own words) or Chinese (zh,
// zh-CN, zh-Hans, zh-TW, ... all read Simplified Chinese here).
func For(acceptLanguage string) text.Printer {
	if strings.TrimSpace(acceptLanguage) == "" {
		return nil
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return nil
	}
	if _, i, conf := matcher.Match(tags...); i == 1 && conf != language.No {
		return chinese
	}
	return nil
}

// Chinese is the Simplified Chinese printer.
func Chinese() text.Printer { return chinese }

// printer adapts x/text's Printer, whose Sprintf takes a message.Reference.
type printer struct{ p *message.Printer }

func (p printer) Sprintf(format string, args ...any) string { return p.p.Sprintf(format, args...) }

func mustPrinter(tag language.Tag, file []byte) text.Printer {
	tr, err := parse(file)
	if err != nil {
		panic(err) // the embedded file is ours: the package's tests read it first
	}
	b := catalog.NewBuilder(catalog.Fallback(language.English))
	for en, zh := range tr {
		if err := b.SetString(tag, text.Key(en), text.Key(zh)); err != nil {
			panic(fmt.Sprintf("i18n: %q: %v", en, err))
		}
	}
	return printer{message.NewPrinter(tag, message.Catalog(b))}
}

// parse reads a catalog file: one JSON object, English format to
// translated format. A translation x/text would read as more than a format
// ("${name}" is its substitution syntax) is refused.
func parse(file []byte) (map[string]string, error) {
	var tr map[string]string
	if err := json.Unmarshal(file, &tr); err != nil {
		return nil, fmt.Errorf("i18n: zh-CN.json: %w", err)
	}
	for en, zh := range tr {
		if strings.Contains(zh, "${") || strings.Contains(en, "${") {
			return nil, fmt.Errorf("i18n: zh-CN.json: %q: \"${\" is x/text's substitution syntax; not in a format", en)
		}
		if strings.TrimSpace(zh) == "" {
			return nil, fmt.Errorf("i18n: zh-CN.json: %q: empty translation", en)
		}
	}
	return tr, nil
}
