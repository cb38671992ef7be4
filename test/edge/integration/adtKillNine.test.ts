// The ADT feed's durability promise: the daemon killed with SIGKILL while a
// pipelined stream of ADT events is being answered applies none of them
// twice and loses none, as long as the ADT system resends what it was not
// answered AA for (its queue, in order). A message committed whose ACK never
// left is answered AA on its resend and not applied again. `wardgate status`
// then shows the link.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { adtMessage } from '../../helpers/adt.js';
import { freePort, waitFor } from '../../helpers/env.js';
import { spawnDaemon, WARDGATE_BIN, writeTestConfig } from '../../helpers/gateway.js';
import { MllpClient } from '../../helpers/mllp.js';

t.setTimeout(170_000);

const PATIENTS = 40;

/** Per patient, in time order: admit to bed p, rename, move to bed 100+p, and for even p a discharge. */
function feed(): Array<{ controlId: string; text: string }> {
  const out: Array<{ controlId: string; text: string }> = [];
  const at = (minute: number) => `2026120209${String(minute).padStart(2, '0')}00+0000`;
  const stages = [
    (p: number) => ({ event: 'A01', location: `3B^1^${p}`, name: `DOE^PAT${p}`, at: at(1) }),
    (p: number) => ({ event: 'A08', location: `3B^1^${p}`, name: `DOE-SMITH^PAT${p}`, at: at(2) }),
    (p: number) => ({ event: 'A02', location: `3B^2^${100 + p}`, name: `DOE-SMITH^PAT${p}`, at: at(3) }),
    (p: number) =>
      p % 2 === 0 ? { event: 'A03', location: `3B^2^${100 + p}`, name: `DOE-SMITH^PAT${p}`, at: at(4) } : undefined,
  ];
  stages.forEach((stage, s) => {
    for (let p = 1; p <= PATIENTS; p++) {
      const spec = stage(p);
      if (!spec) continue;
      const controlId = `K${s}-${p}`;
      out.push({ controlId, text: adtMessage({ ...spec, controlId, patient: `MRN${p}` }) });
    }
  });
  return out;
}

t.test('every ADT event applied exactly once across kill -9, none lost', async (t) => {
  const adtPort = await freePort();
  const { dir, file } = await writeTestConfig(t, {
    extra: {
      hl7: {
        port: await freePort(),
        adt: { port: adtPort, senders: [{ application: 'HIS' }], locations: [{ pointOfCare: '3B' }] },
      },
    },
  });
  const dataDir = join(dir, 'data');
  const messages = feed();
  let next = 0;
  let inDoubt = 0;
  const rounds = 4;
  for (let round = 0; round <= rounds && next < messages.length; round++) {
    const daemon = await spawnDaemon(t, file, dataDir);
    const client = await MllpClient.connect(t, adtPort);
    // The ADT system's queue: everything not yet answered AA, in order, pipelined.
    const todo = messages.slice(next);
    for (const m of todo) client.send(m.text);
    if (round < rounds) {
      await new Promise((r) => setTimeout(r, 30 + Math.floor(Math.random() * 250)));
      daemon.child.kill('SIGKILL');
      t.equal(await daemon.exited, 'SIGKILL', `round ${round}: killed`);
      if (!client.closed) await new Promise((r) => client.socket.once('close', r));
    } else {
      await client.waitForAcks(todo.length, 60_000);
    }
    const acked = client.acks.findIndex((a) => a.code !== 'AA');
    const answered = acked < 0 ? client.acks.length : acked;
    client.acks.slice(0, answered).forEach((a, i) => t.equal(a.controlId, todo[i].controlId));
    // Committed but never answered: the resend must find it applied.
    const db = new Database(join(dataDir, 'wardgate.db'), { readonly: true });
    const committed = new Set(
      (db.prepare('SELECT control_id FROM adt_messages').all() as Array<{ control_id: string }>).map(
        (r) => r.control_id,
      ),
    );
    db.close();
    inDoubt += todo.slice(answered).filter((m) => committed.has(m.controlId)).length;
    next += answered;
    if (round === rounds) {
      t.equal(next, messages.length, 'every message answered AA in the end');
      // The listener writes its status at most every 2 s: the connection shows within that.
      const status = await waitFor(
        () => {
          const s = JSON.parse(
            execFileSync(process.execPath, [WARDGATE_BIN, 'status', '--config', file, '--json'], { encoding: 'utf8' }),
          ) as { adt: Record<string, unknown> };
          return s.adt.connections === 1 ? s : undefined;
        },
        5000,
        'the connection in the status',
      );
      t.match(status.adt, { state: 'listening', port: adtPort, connections: 1 });
      const text = execFileSync(process.execPath, [WARDGATE_BIN, 'status', '--config', file], { encoding: 'utf8' });
      t.match(text, new RegExp(`adt in +listening, port ${adtPort}, 1 connected`));
      client.end();
      daemon.child.kill('SIGTERM');
      t.equal(await daemon.exited, 0, 'the last run stops cleanly');
      const after = JSON.parse(
        execFileSync(process.execPath, [WARDGATE_BIN, 'status', '--config', file, '--json'], { encoding: 'utf8' }),
      ) as { adt: Record<string, unknown> };
      t.match(after.adt, { state: 'down', connections: 0 });
    }
  }
  t.comment(`messages committed whose ACK never left before the kill, answered on their resend: ${inDoubt}`);
  const db = new Database(join(dataDir, 'wardgate.db'), { readonly: true });
  t.teardown(() => db.close());
  t.equal(
    (db.prepare('SELECT count(*) AS n FROM adt_messages').get() as { n: number }).n,
    messages.length,
    'each control id recorded once',
  );
  const perMessage = db
    .prepare("SELECT detail ->> 'controlId' AS id, count(*) AS n FROM audit WHERE actor = 'adt' GROUP BY id")
    .all() as Array<{ id: string; n: number }>;
  t.equal(perMessage.length, messages.length, 'every message has its audit entry');
  t.ok(
    perMessage.every((r) => r.n === 1),
    'and only one',
  );
  const open = db
    .prepare(
      'SELECT a.bed, a.display_name AS name, p.identifier FROM admissions a JOIN patients p ON p.id = a.patient WHERE a.discharged_at IS NULL ORDER BY a.bed',
    )
    .all() as Array<{ bed: string; name: string; identifier: string }>;
  const expected = Array.from({ length: PATIENTS / 2 }, (_, i) => 2 * i + 1).map((p) => ({
    bed: String(100 + p),
    name: `DOE-SMITH, PAT${p}`,
    identifier: `MRN${p}`,
  }));
  t.same(
    open,
    expected.sort((a, b) => a.bed.localeCompare(b.bed)),
    'odd patients in their second bed, renamed; even ones discharged',
  );
  t.equal(
    (db.prepare('SELECT count(*) AS n FROM admissions').get() as { n: number }).n,
    PATIENTS,
    'one admission per patient, moved, never duplicated',
  );
});
