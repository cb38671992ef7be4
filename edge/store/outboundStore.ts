// The durable queue of outbound HL7 links (migration 8): what the gateway
// owes a hospital system (vitals to the EHR, alarm reports to an alarm
// manager), kept in the gateway's SQLite file so that a crash or a power cut
// loses none of it.
//
// API (used by edge/integration/outboundLink.ts, which drives one link):
//   enqueue({ link, orderKey, controlId, message }) -> id
//       Adds a message. `orderKey` groups messages that must reach the
//       receiver in order (a patient for the EHR; an alarm, or the link itself,
//       for an alarm manager). `controlId` is the message's MSH-10, unique
//       across all links, fixed here: every resend carries it unchanged.
//   heads(link) -> the oldest queued message of each ordering key (the only
//       ones that may be sent: head-of-line per key).
//   markSent / markFailed / quarantine: the outcome of one attempt.
//   requeueQuarantined(link): an operator's retry of what the receiver refused.
//   linkState / setConnected / setLinkError: what `wardgate status` shows.
//   summary(link) / summaries(): queued, quarantined, sent counts and times.
//   purgeSent(link, before): retention of delivered messages.
// States: queued -> sent (AA/CA), or queued -> quarantined (AR/CR), and
// quarantined -> queued again only by an operator. Nothing is deleted but
// sent messages past retention.
import type { Statement } from 'better-sqlite3';
import { writeTransaction, type Db } from './database.js';

export type OutboundState = 'queued' | 'sent' | 'quarantined';

export interface OutboundMessage {
  readonly id: number;
  readonly link: string;
  readonly orderKey: string;
  readonly controlId: string;
  readonly message: string;
  readonly state: OutboundState;
  readonly attempts: number;
  /** Epoch ms before which the message is not tried again. */
  readonly nextAttemptAt: number;
  readonly lastError: string | null;
  readonly enqueuedAt: number;
  readonly lastAttemptAt: number | null;
  readonly sentAt: number | null;
  readonly quarantinedAt: number | null;
}

export interface NewOutboundMessage {
  readonly link: string;
  readonly orderKey: string;
  readonly controlId: string;
  readonly message: string;
}

export interface OutboundSummary {
  readonly link: string;
  readonly queued: number;
  readonly quarantined: number;
  readonly sent: number;
  /** Enqueue time of the oldest queued message, epoch ms. */
  readonly oldestQueuedAt: number | null;
  readonly connected: boolean;
  readonly lastError: string | null;
  readonly lastErrorAt: number | null;
  readonly lastSuccessAt: number | null;
}

interface Row {
  id: number;
  link: string;
  order_key: string;
  control_id: string;
  message: string;
  state: OutboundState;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  enqueued_at: number;
  last_attempt_at: number | null;
  sent_at: number | null;
  quarantined_at: number | null;
}

const COLUMNS =
  'id, link, order_key, control_id, message, state, attempts, next_attempt_at, last_error, enqueued_at, last_attempt_at, sent_at, quarantined_at';

function toMessage(r: Row): OutboundMessage {
  return {
    id: r.id,
    link: r.link,
    orderKey: r.order_key,
    controlId: r.control_id,
    message: r.message,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    enqueuedAt: r.enqueued_at,
    lastAttemptAt: r.last_attempt_at,
    sentAt: r.sent_at,
    quarantinedAt: r.quarantined_at,
  };
}

export class OutboundStore {
  readonly #db: Db;
  readonly #insert: Statement;
  readonly #heads: Statement;
  readonly #touchLink: Statement;
  readonly #enqueueMany: (messages: readonly NewOutboundMessage[], now: number) => number[];

  constructor(db: Db) {
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT INTO outbound_messages (link, order_key, control_id, message, state, next_attempt_at, enqueued_at)
       VALUES (?, ?, ?, ?, 'queued', ?, ?)`,
    );
    // The oldest queued message of each key: the partial index holds queued rows only, in (key, id) order.
    this.#heads = db.prepare(
      `SELECT ${COLUMNS} FROM outbound_messages
       WHERE id IN (SELECT min(id) FROM outbound_messages WHERE link = ? AND state = 'queued' GROUP BY order_key)
       ORDER BY id`,
    );
    this.#touchLink = db.prepare(
      'INSERT INTO outbound_links (link, updated_at) VALUES (?, ?) ON CONFLICT (link) DO NOTHING',
    );
    this.#enqueueMany = writeTransaction(db, (messages: readonly NewOutboundMessage[], now: number) =>
      messages.map((m) => {
        this.#touchLink.run(m.link, now);
        return Number(this.#insert.run(m.link, m.orderKey, m.controlId, m.message, now, now).lastInsertRowid);
      }),
    );
  }

  /** Adds a message to its link's queue, durably (the commit is synced before this returns). */
  enqueue(message: NewOutboundMessage, now = Date.now()): number {
    return this.#enqueueMany([message], now)[0];
  }

  /** Adds several messages in one transaction, in order. */
  enqueueAll(messages: readonly NewOutboundMessage[], now = Date.now()): number[] {
    return this.#enqueueMany(messages, now);
  }

  /** The oldest queued message of each ordering key of the link, oldest first. */
  heads(link: string): OutboundMessage[] {
    return (this.#heads.all(link) as Row[]).map(toMessage);
  }

  get(id: number): OutboundMessage | undefined {
    const row = this.#db.prepare(`SELECT ${COLUMNS} FROM outbound_messages WHERE id = ?`).get(id) as Row | undefined;
    return row && toMessage(row);
  }

  /** Messages of a link in a state, oldest first (for status and tests). */
  list(link: string, state: OutboundState, limit = 100): OutboundMessage[] {
    return (
      this.#db
        .prepare(`SELECT ${COLUMNS} FROM outbound_messages WHERE link = ? AND state = ? ORDER BY id LIMIT ?`)
        .all(link, state, limit) as Row[]
    ).map(toMessage);
  }

  /** The receiver accepted it (AA/CA). */
  markSent(id: number, now = Date.now()): void {
    writeTransaction(this.#db, () => {
      this.#db
        .prepare(
          "UPDATE outbound_messages SET state = 'sent', attempts = attempts + 1, last_attempt_at = ?, sent_at = ?, last_error = NULL WHERE id = ? AND state = 'queued'",
        )
        .run(now, now, id);
      this.#db
        .prepare(
          'UPDATE outbound_links SET last_success_at = ?, updated_at = ? WHERE link = (SELECT link FROM outbound_messages WHERE id = ?)',
        )
        .run(now, now, id);
    })();
  }

  /** An attempt failed in a way that passes (AE, no answer, network): tried again at `nextAttemptAt`. */
  markFailed(id: number, error: string, nextAttemptAt: number, now = Date.now()): void {
    this.#db
      .prepare(
        "UPDATE outbound_messages SET attempts = attempts + 1, last_attempt_at = ?, next_attempt_at = ?, last_error = ? WHERE id = ? AND state = 'queued'",
      )
      .run(now, nextAttemptAt, error, id);
  }

  /** The receiver refused it (AR/CR): it leaves the queue so that the messages behind it can go. */
  quarantine(id: number, error: string, now = Date.now()): void {
    this.#db
      .prepare(
        "UPDATE outbound_messages SET state = 'quarantined', attempts = attempts + 1, last_attempt_at = ?, quarantined_at = ?, last_error = ? WHERE id = ? AND state = 'queued'",
      )
      .run(now, now, error, id);
  }

  /**
   * Puts the link's quarantined messages back in the queue, to be sent at
   * once with their own control ids (an operator fixed the cause). They keep
   * their ids, so each goes ahead of anything its key enqueued since.
   */
  requeueQuarantined(link: string, now = Date.now()): number {
    return this.#db
      .prepare(
        "UPDATE outbound_messages SET state = 'queued', quarantined_at = NULL, next_attempt_at = ? WHERE link = ? AND state = 'quarantined'",
      )
      .run(now, link).changes;
  }

  setConnected(link: string, connected: boolean, now = Date.now()): void {
    this.#db
      .prepare(
        'INSERT INTO outbound_links (link, connected, updated_at) VALUES (?, ?, ?) ON CONFLICT (link) DO UPDATE SET connected = excluded.connected, updated_at = excluded.updated_at',
      )
      .run(link, Number(connected), now);
  }

  setLinkError(link: string, error: string, now = Date.now()): void {
    this.#db
      .prepare(
        `INSERT INTO outbound_links (link, last_error, last_error_at, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (link) DO UPDATE SET last_error = excluded.last_error, last_error_at = excluded.last_error_at, updated_at = excluded.updated_at`,
      )
      .run(link, error, now, now);
  }

  summary(link: string): OutboundSummary {
    return linkSummary(this.#db, link);
  }

  /** Every link that ever had a message or a state, by name. */
  summaries(): OutboundSummary[] {
    return linkSummaries(this.#db);
  }

  /** Deletes the link's messages delivered before `before` (epoch ms); queued and quarantined ones are never deleted. */
  purgeSent(link: string, before: number): number {
    return this.#db
      .prepare("DELETE FROM outbound_messages WHERE state = 'sent' AND sent_at < ? AND link = ?")
      .run(before, link).changes;
  }
}

/** Link summaries for `wardgate status`, from a read-only connection (no table before migration 8: none). */
export function readOutboundSummaries(db: Db): OutboundSummary[] {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbound_messages'").get();
  return exists ? linkSummaries(db) : [];
}

function linkSummaries(db: Db): OutboundSummary[] {
  const links = db
    .prepare('SELECT link FROM outbound_links UNION SELECT DISTINCT link FROM outbound_messages ORDER BY 1')
    .pluck()
    .all() as string[];
  return links.map((link) => linkSummary(db, link));
}

function linkSummary(db: Db, link: string): OutboundSummary {
  const counts = new Map(
    (
      db
        .prepare('SELECT state, count(*) AS n FROM outbound_messages WHERE link = ? GROUP BY state')
        .all(link) as Array<{ state: OutboundState; n: number }>
    ).map((r) => [r.state, r.n]),
  );
  const oldest = db
    .prepare("SELECT min(enqueued_at) FROM outbound_messages WHERE link = ? AND state = 'queued'")
    .pluck()
    .get(link) as number | null;
  const state = db
    .prepare('SELECT connected, last_error, last_error_at, last_success_at FROM outbound_links WHERE link = ?')
    .get(link) as
    | { connected: number; last_error: string | null; last_error_at: number | null; last_success_at: number | null }
    | undefined;
  return {
    link,
    queued: counts.get('queued') ?? 0,
    quarantined: counts.get('quarantined') ?? 0,
    sent: counts.get('sent') ?? 0,
    oldestQueuedAt: oldest,
    connected: state?.connected === 1,
    lastError: state?.last_error ?? null,
    lastErrorAt: state?.last_error_at ?? null,
    lastSuccessAt: state?.last_success_at ?? null,
  };
}
