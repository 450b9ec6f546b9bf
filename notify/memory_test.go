package notify_test

import (
	"testing"

	"github.com/anchorpki/anchor/notify"
	"github.com/anchorpki/anchor/notify/notifytest"
)

func TestMemoryOutbox(t *testing.T) {
	notifytest.RunOutbox(t, func() notify.Outbox { return &notify.MemoryOutbox{} })
}
