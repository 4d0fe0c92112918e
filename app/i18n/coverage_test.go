package i18n

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"releasedesk/events/text"
)

// moduleRoot is the module's directory, from this package's.
var moduleRoot = filepath.Join("..", "..")

// sourceDirs are where the server's sentences are made: every package
// below them may build a text.Text.
var sourceDirs = []string{"app", "runner", "events", "projections"}

// textPkg is the import path of the package whose constructors take a
// format.
const textPkg = "releasedesk/events/text"

// use is one format given to text.New or text.Errorf.
type use struct {
	format string
	at     string // file:line
}

// scan reads every non-test Go file under sourceDirs and returns the
// formats given to the constructors, and the problems no format may have:
// a format that is not a literal (nothing would check it), a Text built as
// a struct literal, a literal given to Plain (an English sentence no one
// would translate), and a call whose arguments do not match its format's
// verbs (go vet does not know these constructors).
func scan(t *testing.T) (uses []use, problems []string) {
	t.Helper()
	fset := token.NewFileSet()
	for _, dir := range sourceDirs {
		root := filepath.Join(moduleRoot, dir)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" || d.Name() == "node_modules" || path == filepath.Join(moduleRoot, "events", "text") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			u, p := scanFile(fset, f, textName(f))
			uses, problems = append(uses, u...), append(problems, p...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return uses, problems
}

// textName is the name a file imports the text package by, or "".
func textName(f *ast.File) string {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == textPkg {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return "text"
		}
	}
	return ""
}

func scanFile(fset *token.FileSet, f *ast.File, name string) (uses []use, problems []string) {
	if name == "" {
		return nil, nil
	}
	at := func(n ast.Node) string {
		p := fset.Position(n.Pos())
		return filepath.ToSlash(strings.TrimPrefix(p.Filename, moduleRoot+string(filepath.Separator))) + ":" + strconv.Itoa(p.Line)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CompositeLit:
			if sel, ok := n.Type.(*ast.SelectorExpr); ok && isPkg(sel.X, name) && sel.Sel.Name == "Text" && len(n.Elts) > 0 {
				problems = append(problems, at(n)+": a text.Text built as a struct literal escapes the catalog: use text.New")
			}
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok || !isPkg(sel.X, name) {
				return true
			}
			switch sel.Sel.Name {
			case "New", "Errorf":
				if len(n.Args) == 0 {
					return true
				}
				format, ok := literal(n.Args[0])
				if !ok {
					problems = append(problems, at(n)+": text."+sel.Sel.Name+" of a format that is not a literal: the catalog cannot be checked")
					return true
				}
				uses = append(uses, use{format, at(n)})
				if n.Ellipsis == token.NoPos {
					if want, got := argCount(format), len(n.Args)-1; want != got {
						problems = append(problems, fmt.Sprintf("%s: %q takes %d arguments, given %d", at(n), format, want, got))
					}
				}
			case "Plain":
				if len(n.Args) == 1 {
					if s, ok := literal(n.Args[0]); ok {
						problems = append(problems, fmt.Sprintf("%s: text.Plain(%q): words of ours are text.New, to be translated", at(n), s))
					}
				}
			}
		}
		return true
	})
	return uses, problems
}

func isPkg(x ast.Expr, name string) bool {
	id, ok := x.(*ast.Ident)
	return ok && id.Name == name
}

// literal is the value of a string literal, or of literals joined by +.
func literal(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.ParenExpr:
		return literal(e.X)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		a, ok1 := literal(e.X)
		b, ok2 := literal(e.Y)
		return a + b, ok1 && ok2
	}
	return "", false
}

// argCount is how many arguments a format takes.
func argCount(format string) int {
	n := 0
	for _, v := range text.Verbs(format) {
		n = max(n, v.Arg)
	}
	return n
}

// placeholders is a format's verbs as a catalog compares them: each
// argument's index and verb, in argument order, %w read as %v.
func placeholders(format string) []string {
	var out []string
	for _, v := range text.Verbs(text.Key(format)) {
		out = append(out, fmt.Sprintf("%%[%d]%c", v.Arg, v.Verb))
	}
	slices.Sort(out)
	return out
}

// TestEveryFormatIsTranslated: every format the code gives text.New or
// text.Errorf has a Chinese translation with the same placeholders, and
// every translation is of a format some code still uses. A format the
// check could not read fails too.
func TestEveryFormatIsTranslated(t *testing.T) {
	uses, problems := scan(t)
	for _, p := range problems {
		t.Error(p)
	}
	if len(uses) < 100 {
		t.Fatalf("found only %d formats: is the scan looking in the right place?", len(uses))
	}
	zh, err := parse(zhCNFile)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	var missing []string
	for _, u := range uses {
		if used[u.format] {
			continue
		}
		used[u.format] = true
		tr, ok := zh[u.format]
		if !ok {
			t.Errorf("%s: %q has no zh-CN translation (app/i18n/zh-CN.json)", u.at, u.format)
			missing = append(missing, u.format)
			continue
		}
		if a, b := placeholders(u.format), placeholders(tr); !slices.Equal(a, b) {
			t.Errorf("%s: %q: the translation %q has the placeholders %v, the English %v", u.at, u.format, tr, b, a)
		}
	}
	for en := range zh {
		if !used[en] {
			t.Errorf("zh-CN.json: %q: no code uses this format any more: remove it", en)
		}
	}
	if len(missing) > 0 {
		var b strings.Builder
		for _, m := range missing {
			q, _ := jsonString(m)
			fmt.Fprintf(&b, "  %s: %s,\n", q, q)
		}
		t.Logf("to add, translated:\n%s", b.String())
	}
}

func jsonString(s string) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}
