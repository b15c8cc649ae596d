-- Issue 10: what a publisher delivered at the newest second it delivered on a subscription
-- (JSON `{"created_at": n, "ids": [..]}`, empty for none), so a resume REQ from that second
-- skips them even after the publisher restarted.
ALTER TABLE subscriptions ADD COLUMN delivered_newest TEXT NOT NULL DEFAULT '';
