package notify

import (
	"embed"
	"sync"
	"text/template"

	"releasedesk/events/text"
)

// defaultFiles hold the default message of every trigger, one file per
// language (templates/<language>.tmpl), each trigger a {{define}} block
// named after it, plus "link", the words of the link back. Our own text,
// so unlike a channel's template it may define and share blocks.
//
//go:embed templates/*.tmpl
var defaultFiles embed.FS

// defaultSets parses each language's file once, on first use; a file that
// does not parse is an error of every Render, and TestDefaults fails first.
var defaultSets = sync.OnceValues(func() (map[string]*template.Template, error) {
	sets := map[string]*template.Template{}
	for _, lang := range Languages {
		src, err := defaultFiles.ReadFile("templates/" + lang + ".tmpl")
		if err != nil {
			return nil, err
		}
		t, err := template.New(lang).Option("missingkey=error").Funcs(template.FuncMap{"printf": boundedPrintf}).Parse(string(src))
		if err != nil {
			return nil, err
		}
		sets[lang] = t
	}
	return sets, nil
})

// defaultTemplate is the default message of a trigger in a language, and
// the words of its link back.
func defaultTemplate(trigger, lang string) (*template.Template, string, error) {
	sets, err := defaultSets()
	if err != nil {
		return nil, "", err
	}
	set := sets[lang]
	if set == nil || set.Lookup(trigger) == nil {
		return nil, "", text.Errorf("no default message for %s in %s", trigger, lang)
	}
	linkText, err := execute(set.Lookup("link"), TemplateData{})
	if err != nil {
		return nil, "", err
	}
	return set.Lookup(trigger), linkText, nil
}
