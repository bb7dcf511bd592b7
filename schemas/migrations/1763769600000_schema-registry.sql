-- Up Migration

-- Log type versions published at runtime (npm run schemas:publish), beside the ones bundled with the
-- code. Published versions are immutable: a change is a new version, never an UPDATE of `schema`.
-- `active = false` withdraws a version from the services without deleting its history.
CREATE TABLE schema_registry (
  log_type   text        NOT NULL,
  version    integer     NOT NULL CHECK (version >= 1),
  -- The type file as in schemas/log-types/<log_type>/v<N>.json: own fields + x-log-type, x-version,
  -- x-unknown-properties. The services compose it with the envelope they ship.
  schema     jsonb       NOT NULL,
  active     boolean     NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (log_type, version)
);

-- Down Migration

DROP TABLE schema_registry;
