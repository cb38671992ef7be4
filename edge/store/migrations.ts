// Versioned schema migrations, applied in order at open. PRAGMA user_version
// holds the number of migrations applied. Never edit a migration that has
// shipped: add a new one.

export const migrations: readonly string[] = [
  // 1: devices, observations (with their readings) and device status with
  // outbox cursors, dead letters and O(1) counters.
  `
  CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL UNIQUE,
    bed TEXT,
    source TEXT NOT NULL,
    declared INTEGER NOT NULL DEFAULT 1,
    first_seen INTEGER,
    last_seen INTEGER,
    last_seq INTEGER,
    online INTEGER,
    battery REAL,
    sensor TEXT,
    status_ts INTEGER
  );
  -- One row per accepted observation message: its readings, normalized to
  -- canonical units, are a JSON array [[code, value, flags, ts?], ...] (ts only
  -- where an entry's time differs from the message's). One insert per message
  -- instead of one per value keeps the fsync'd ingest path short; the readings
  -- view below gives SQL a row per reading all the same.
  -- (device, seq) is unique: a repeat is recognised here, and the digest of the
  -- payload tells a retransmission from a reused sequence number.
  -- AUTOINCREMENT: ids are never reused, even after retention empties the
  -- table, because the outbox cursor relies on them only growing.
  CREATE TABLE observations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    received_ts INTEGER NOT NULL,
    bed TEXT,
    digest BLOB NOT NULL,
    readings TEXT NOT NULL
  );
  CREATE UNIQUE INDEX observations_device_seq ON observations (device, seq);
  CREATE VIEW readings AS
    SELECT o.id AS observation, o.device, o.seq, coalesce(r.value ->> 3, o.ts) AS ts, o.received_ts,
           r.value ->> 0 AS code, r.value ->> 1 AS value, r.value ->> 2 AS flags, o.bed
    FROM observations o, json_each(o.readings) r;
  CREATE TABLE device_status (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    received_ts INTEGER NOT NULL,
    online INTEGER,
    battery REAL,
    sensor TEXT
  );
  -- The outbox: each stream is synced in id order, so what is still to send is
  -- every row above its cursor, found through the primary key, never by a scan,
  -- and with no per-row index to keep up on the ingest path.
  CREATE TABLE outbox_cursors (stream TEXT PRIMARY KEY, synced_through INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO outbox_cursors (stream, synced_through) VALUES ('observations', 0), ('device_status', 0);
  CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    received_ts INTEGER NOT NULL,
    source TEXT NOT NULL,
    device_id TEXT,
    topic TEXT,
    reason TEXT NOT NULL,
    field TEXT,
    detail TEXT NOT NULL,
    raw BLOB,
    raw_size INTEGER NOT NULL
  );
  CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO counters (name, value) VALUES ('readings', 0), ('readings_unsynced', 0), ('dead_letters', 0);
  `,
  // 2: patient association from HL7 (PID-3) and the bed a sender names per
  // message (PV1-3). Patient identifiers are patient data: they stay in this
  // file, are never logged, and the sync sends only a keyed pseudonym of
  // (authority, identifier). One row per patient; observations point to it.
  `
  CREATE TABLE patients (
    id INTEGER PRIMARY KEY,
    identifier TEXT NOT NULL,
    authority TEXT NOT NULL DEFAULT '',
    id_type TEXT NOT NULL DEFAULT '',
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    UNIQUE (authority, identifier)
  );
  ALTER TABLE observations ADD COLUMN patient INTEGER REFERENCES patients (id);
  ALTER TABLE devices ADD COLUMN patient INTEGER REFERENCES patients (id);
  DROP VIEW readings;
  CREATE VIEW readings AS
    SELECT o.id AS observation, o.device, o.seq, coalesce(r.value ->> 3, o.ts) AS ts, o.received_ts,
           r.value ->> 0 AS code, r.value ->> 1 AS value, r.value ->> 2 AS flags, o.bed, o.patient
    FROM observations o, json_each(o.readings) r;
  `,
  // 3: admissions (patient to bed, with the nurse's NEWS2 entries), alarms
  // with their lifecycle events (an outbox stream that syncs ahead of
  // readings), and the audit trail of every acknowledgement and change.
  `
  CREATE TABLE admissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    patient INTEGER NOT NULL REFERENCES patients (id),
    bed TEXT NOT NULL,
    display_name TEXT,
    admitted_at INTEGER NOT NULL,
    admitted_by TEXT NOT NULL,
    discharged_at INTEGER,
    discharged_by TEXT,
    spo2_scale INTEGER NOT NULL DEFAULT 1,
    on_oxygen INTEGER NOT NULL DEFAULT 0,
    consciousness TEXT,
    consciousness_at INTEGER
  );
  CREATE UNIQUE INDEX admissions_current_bed ON admissions (bed) WHERE discharged_at IS NULL;
  CREATE TABLE alarms (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    bed TEXT,
    device_id TEXT,
    kind TEXT NOT NULL,
    rule TEXT NOT NULL,
    metric TEXT,
    priority TEXT NOT NULL,
    latching INTEGER NOT NULL,
    state TEXT NOT NULL,
    message TEXT NOT NULL,
    value REAL,
    raised_at INTEGER NOT NULL,
    escalations INTEGER NOT NULL,
    last_escalated_at INTEGER,
    acknowledged_by TEXT,
    acknowledged_at INTEGER,
    cleared_at INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX alarms_open ON alarms (state) WHERE state <> 'cleared';
  CREATE TABLE alarm_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alarm_id TEXT NOT NULL,
    phase TEXT NOT NULL,
    ts INTEGER NOT NULL,
    bed TEXT,
    device_id TEXT,
    kind TEXT NOT NULL,
    rule TEXT NOT NULL,
    metric TEXT,
    priority TEXT NOT NULL,
    state TEXT NOT NULL,
    message TEXT NOT NULL,
    value REAL,
    by TEXT,
    escalations INTEGER NOT NULL
  );
  CREATE INDEX alarm_events_alarm ON alarm_events (alarm_id);
  CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT
  );
  INSERT INTO outbox_cursors (stream, synced_through) VALUES ('alarm_events', 0), ('audit', 0);
  `,
  // 4: sync bookkeeping. A batch is planned (its per-stream id ranges fixed)
  // and written here before its first attempt, so that after a crash the same
  // items are sent again as the same batch. Several batches are in flight at
  // once and complete out of order: each stream's cursor advances only over a
  // contiguous run of acknowledged batches; acknowledged batches above a gap
  // wait here until the gap closes. A 4xx answer quarantines a batch with its
  // reason; nothing is deleted. sync_state keeps what `wardgate status` shows
  // about the sync (state, last success, drain rate) and the pulled config.
  `
  CREATE TABLE sync_batches (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('inflight', 'acked', 'quarantined')),
    alarms_after INTEGER NOT NULL,
    alarms_through INTEGER NOT NULL,
    obs_after INTEGER NOT NULL,
    obs_through INTEGER NOT NULL,
    status_after INTEGER NOT NULL,
    status_through INTEGER NOT NULL,
    items INTEGER NOT NULL,
    readings INTEGER NOT NULL,
    planned_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER,
    acked_at INTEGER,
    http_status INTEGER,
    error_code TEXT,
    reason TEXT,
    quarantined_at INTEGER
  ) WITHOUT ROWID;
  CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  `,
  // 5: the dashboard's trend charts read one bed's observations over a time
  // range. Without an index that is a scan of every bed's rows (30 beds x 1 Hz
  // x 24 h is 2.6 million); with it, a range scan of the bed's own. Partial:
  // observations with no bed (devices not bound to one) cost nothing.
  `
  CREATE INDEX observations_bed_ts ON observations (bed, ts) WHERE bed IS NOT NULL;
  `,
  // 6: the audit trail travels to the cloud as a fourth outbox stream (its
  // cursor exists since migration 3). A batch planned before this migration
  // covers no audit entries: its range is (0, 0].
  `
  ALTER TABLE sync_batches ADD COLUMN audit_after INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE sync_batches ADD COLUMN audit_through INTEGER NOT NULL DEFAULT 0;
  `,
  // 7: whether the nurse has recorded air or oxygen at all. on_oxygen defaults
  // to 0, which read as "on air" for every patient nobody had asked about;
  // NEWS2 now names oxygen as missing until oxygen_at is set. An admission
  // already marked on oxygen was recorded; one marked on air cannot be told
  // from the default and becomes unrecorded.
  `
  ALTER TABLE admissions ADD COLUMN oxygen_at INTEGER;
  UPDATE admissions SET oxygen_at = admitted_at WHERE on_oxygen = 1;
  `,
  // 8: outbound HL7 links (the EHR, an alarm manager): a durable queue per
  // link, sent in id order within each ordering key (a patient, an alarm).
  // The control id (MSH-10) is fixed when a message is enqueued, so that a
  // resend after a timeout or a crash carries the same id and the receiver
  // can recognise it. Rows hold patient identifiers: they stay in this file
  // and never travel to the cloud. outbound_links keeps what \`wardgate
  // status\` shows of each link (connected, last error, last success).
  `
  CREATE TABLE outbound_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    link TEXT NOT NULL,
    order_key TEXT NOT NULL,
    control_id TEXT NOT NULL UNIQUE,
    message TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'quarantined')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    enqueued_at INTEGER NOT NULL,
    last_attempt_at INTEGER,
    sent_at INTEGER,
    quarantined_at INTEGER
  );
  CREATE INDEX outbound_queued ON outbound_messages (link, order_key, id) WHERE state = 'queued';
  CREATE INDEX outbound_quarantined ON outbound_messages (link, id) WHERE state = 'quarantined';
  CREATE INDEX outbound_sent ON outbound_messages (sent_at) WHERE state = 'sent';
  CREATE TABLE outbound_links (
    link TEXT PRIMARY KEY,
    connected INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_error_at INTEGER,
    last_success_at INTEGER,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 9: the hospital's ADT feed (hl7.adt). An admission says where it came
  // from (the ADT feed or a person). Each ADT message applied is kept by its
  // sender and control id (MSH-10) with a digest of its content, in the same
  // transaction as its effect, so that a resend after a lost ACK or a crash is
  // answered without being applied twice. Per patient, the time of the last
  // event applied, so that an older event arriving late does not undo a newer.
  `
  ALTER TABLE admissions ADD COLUMN source TEXT NOT NULL DEFAULT 'manual';
  CREATE TABLE adt_messages (
    sender TEXT NOT NULL,
    control_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    event TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (sender, control_id)
  ) WITHOUT ROWID;
  CREATE INDEX adt_messages_received ON adt_messages (received_at);
  CREATE TABLE adt_patient_events (
    patient INTEGER PRIMARY KEY REFERENCES patients (id),
    event_ts INTEGER NOT NULL
  );
  `,
  // 10: the limit a limit alarm crossed (its side and the bound in force), on
  // the alarm and on each of its events, as the engine gives it: an open
  // alarm restored after a restart keeps it, and a PCD-04 built from a
  // recorded event carries it in OBX-7 as one built from the live event does.
  // NULL for every other alarm, and for what was recorded before this
  // migration (its side is in its text).
  `
  ALTER TABLE alarms ADD COLUMN limit_side TEXT CHECK (limit_side IN ('low', 'high'));
  ALTER TABLE alarms ADD COLUMN limit_value REAL;
  ALTER TABLE alarm_events ADD COLUMN limit_side TEXT CHECK (limit_side IN ('low', 'high'));
  ALTER TABLE alarm_events ADD COLUMN limit_value REAL;
  `,
  // 11: the admission a physiological alarm is about: the bed's when it was
  // raised, none when the bed had no admitted patient; it never changes.
  // Every event of the alarm is reported under that patient (none: the bed
  // only), to the alarm manager and in the sync, wherever they are by then.
  // Looked up from bed and event time instead, the end of the previous
  // patient's alarm went out under the next one's identifier, and a transfer
  // took the old bed's alarm history from its patient. No foreign key: an
  // alarm must be recorded whatever the admission rows hold. Technical alarms
  // are the device's: NULL, reported under whoever is in its bed at the event.
  // admission_recorded says the column is the alarm's own (1 for every alarm
  // recorded from now on). patient_left: the bed's admission changed while
  // the alarm was open and latched, unacknowledged; it stays latched until a
  // person acknowledges it, no condition's any more, across restarts.
  //
  // The backfill touches only what is still to be used, not the whole
  // alarms table (never pruned: years of rows on an SD card, rewritten in
  // the transaction that runs before the daemon is ready): open alarms (the
  // alarms_open index), which the engine restores, and alarms with events
  // not yet reported, above the lower of the alarm manager's cursor and the
  // sync's. Each takes the admission in its bed when it was raised. Every
  // other row keeps admission_recorded = 0 (the column's default: adding it
  // rewrites nothing) and is reported, if ever again, under the admission in
  // its bed when it was raised, as before. The backfill is best effort: an
  // A02 transfer moves the admission row to the new bed in place
  // (adtStore.ts), keeping its admission time, so an alarm raised in the old
  // bed before a transfer finds no admission there and is recorded with none
  // (reported with the bed only; open, it leaves at the next start rather
  // than being given to whoever is in the bed then). Seen from the new bed,
  // the moved admission looks as if it had been there since its admission:
  // an admission transferred after the alarm was raised (the audit's
  // 'transfer' entries name it) is never the alarm's, so another patient's
  // alarm raised in that bed before the move is not given to the patient
  // moved in.
  `
  ALTER TABLE alarms ADD COLUMN admission INTEGER;
  ALTER TABLE alarms ADD COLUMN admission_recorded INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE alarms ADD COLUMN patient_left INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX admissions_bed ON admissions (bed, admitted_at);
  UPDATE alarms SET admission_recorded = 1, admission = (
    SELECT ad.id FROM admissions ad
    WHERE ad.bed = alarms.bed AND ad.admitted_at <= alarms.raised_at
      AND (ad.discharged_at IS NULL OR ad.discharged_at > alarms.raised_at)
      AND NOT EXISTS (SELECT 1 FROM audit t WHERE t.action = 'transfer' AND t.ts > alarms.raised_at
        AND json_valid(t.detail) AND json_extract(t.detail, '$.admission') = ad.id)
    ORDER BY ad.admitted_at DESC LIMIT 1)
  WHERE kind = 'physiological' AND bed IS NOT NULL AND (
    id IN (SELECT id FROM alarms WHERE state <> 'cleared')
    OR id IN (SELECT alarm_id FROM alarm_events WHERE id > (
      SELECT min(synced_through) FROM outbox_cursors WHERE stream IN ('alarm_events', 'alarm-manager'))));
  `,
  // 12: per bed, when its last new episode began (alarms/bedPatients.ts: a
  // reading after 2 minutes of silence since its patient left). The alarm
  // engine writes it when it sees one, a row per bed at most, and reads it at
  // the start: an alarm of no admission kept at the admission that followed
  // such an episode stays kept across a restart instead of leaving while its
  // condition still holds. Nothing to backfill: an episode before this
  // migration is unknown, and such an alarm leaves at the start as before.
  `
  CREATE TABLE bed_episodes (bed TEXT PRIMARY KEY, began_at INTEGER NOT NULL) WITHOUT ROWID;
  `,
];
