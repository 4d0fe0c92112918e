package notify

import (
	"strings"
	"testing"
)

func TestEscapeMarkdown(t *testing.T) {
	cases := map[string]string{
		"Fix the login page":           "Fix the login page",
		"@all [click](http://evil)":    "＠all ［click］(http：//evil)",
		"<script>alert(1)</script>":    "＜script＞alert(1)＜/script＞",
		"<@U000> <!channel>":           "＜＠U000＞ ＜!channel＞",
		"line one\n# two\r\n> three":   "line one ＃ two  ＞ three",
		"`code` **bold** _it_ ~s~ a|b": "｀code｀ ＊＊bold＊＊ ＿it＿ ～s～ a｜b",
		`back\slash`:                   "back＼slash",
		"zero\u200bwidth\u202eRTL\x00": "zero width RTL ",
		"发布单 r42：修复登录页":                "发布单 r42：修复登录页",
		"bad utf-8 \xff":               "bad utf-8 \uFFFD",
		"![img](http://evil/x.png)":    "!［img］(http：//evil/x.png)",
		"feature/login_fix@v2 #12 a>b": "feature/login＿fix＠v2 ＃12 a＞b",
		"see https://evil.example/x":   "see https：//evil.example/x",
	}
	for in, want := range cases {
		if got := EscapeMarkdown(in); got != want {
			t.Errorf("EscapeMarkdown(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEscapeSlack(t *testing.T) {
	cases := map[string]string{
		"Fix the login page":         "Fix the login page",
		"<!channel> <@U000> <!here>": "&lt;!channel&gt; &lt;＠U000&gt; &lt;!here&gt;",
		"<http://evil|click>":        "&lt;http：//evil|click&gt;",
		"a & b":                      "a &amp; b",
		"&lt;already&gt;":            "&amp;lt;already&amp;gt;",
		"[click](http://evil) `x`":   "［click］(http：//evil) ｀x｀",
		"@channel\n@here":            "＠channel ＠here",
		"see https://evil.example/x": "see https：//evil.example/x",
	}
	for in, want := range cases {
		if got := EscapeSlack(in); got != want {
			t.Errorf("EscapeSlack(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTruncateBytes(t *testing.T) {
	s := strings.Repeat("发", 10) // 30 bytes
	got := truncateBytes(s, 10)
	if len(got) > 10 || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "发发") {
		t.Errorf("truncateBytes = %q (%d bytes)", got, len(got))
	}
	if truncateBytes("short", 10) != "short" {
		t.Error("a short text was cut")
	}
}
