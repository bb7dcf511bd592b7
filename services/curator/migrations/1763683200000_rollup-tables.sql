-- Up Migration

-- What the curator last rolled up for each lake partition (events/log_type=…/dt=…/hr=…/): a hash of
-- its objects' name:generation:size. A run recomputes only partitions whose listing hashes differently.
CREATE TABLE curator_partitions (
  log_type     text        NOT NULL,
  dt           date        NOT NULL,
  hr           smallint    NOT NULL CHECK (hr BETWEEN 0 AND 23),
  fingerprint  text        NOT NULL,
  object_count integer     NOT NULL,
  curated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (log_type, dt, hr)
);

-- Hourly counts per event, event time (UTC). `events` counts distinct event_id: Pub/Sub delivers at
-- least once, so the lake may hold the same event twice. `users` is NULL for log types without user_id.
-- Daily and longer figures derive from these rows.
CREATE TABLE hourly_event_counts (
  log_type   text        NOT NULL,
  dt         date        NOT NULL,
  hr         smallint    NOT NULL CHECK (hr BETWEEN 0 AND 23),
  event      text        NOT NULL,
  events     bigint      NOT NULL,
  users      bigint,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (log_type, dt, hr, event)
);

-- Product code reads "this event over the last N days" across log types.
CREATE INDEX hourly_event_counts_event_dt ON hourly_event_counts (event, dt);

-- Down Migration

DROP TABLE hourly_event_counts;
DROP TABLE curator_partitions;
