package httpapi

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"releasedesk/app/i18n"
)

// A file of the data directory beside the event log that cannot be
// written for want of space (the credentials of a new token, say) is
// answered as the event log's own refusal is: 503 disk_full, never a bare
// 500; English keeps the error's own words (the file, "no space left on
// device"), Chinese says the data disk is full.
func TestDiskFullBesideTheLogNamesTheDisk(t *testing.T) {
	err := fmt.Errorf("credentials: %w", &os.PathError{Op: "write", Path: "/data/.credentials.json.tmp", Err: syscall.ENOSPC})
	for lang, want := range map[string]string{"en": "/data/.credentials.json.tmp: no space left on device", "zh-CN": "数据盘已满"} {
		got := toAPIError(err, i18n.For(lang))
		if got.Status != http.StatusServiceUnavailable || got.Code != "disk_full" || !strings.Contains(got.Message, want) {
			t.Errorf("%s: %d %s %q, want 503 disk_full naming the disk", lang, got.Status, got.Code, got.Message)
		}
	}
	if got := toAPIError(&os.PathError{Op: "write", Path: "/x", Err: syscall.EIO}, nil); got.Status != http.StatusInternalServerError {
		t.Errorf("another write error: %d %s, want 500", got.Status, got.Code)
	}
}
