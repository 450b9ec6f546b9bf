package server

import (
	"context"
	"time"
)

// reminderLease makes one replica at a time send expiry reminders.
const reminderLease = "expiry-reminders"

// reminderEvery is how often the reminder job runs. The job is idempotent per
// certificate and day, so running it hourly only makes it prompt after a
// restart or a missed run.
const reminderEvery = time.Hour

func (s *Server) reminderLoop(ctx context.Context) {
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		timer.Reset(reminderEvery)
		ok, err := s.Store.AcquireLease(ctx, reminderLease, s.Replica, reminderEvery/2)
		if err != nil || !ok {
			if err != nil {
				s.log().Error("reminder lease", "err", err)
			}
			continue
		}
		start := time.Now()
		n, err := s.Publication.CA.SendReminders(ctx, s.now(), s.ReminderDays)
		if err != nil {
			s.log().Error("expiry reminders", "err", err, "recorded", n)
			continue
		}
		s.log().Info("expiry reminders", "recorded", n, "duration", time.Since(start))
		if n > 0 && s.Dispatcher != nil {
			s.Dispatcher.Wake()
		}
	}
}
