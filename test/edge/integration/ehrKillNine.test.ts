// The EHR queue across kill -9: vitals charted while the interface engine is
// silent (one message sent and never answered, the rest waiting), the daemon
// killed, then restarted with the engine answering. Every charted message
// reaches the engine; delivery is at least once with the same control id:
// the one in flight at the kill arrives twice with one MSH-10 and the same
// text, so a receiver that de-duplicates by control id (as engines do) has
// each exactly once, and each patient's messages arrive in charting order.
import t from 'tap';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { InterfaceEngine } from '../../helpers/interfaceEngine.js';
import { freePort, waitFor } from '../../helpers/env.js';
import { passwordOf, spawnDaemon, writeTestConfig } from '../../helpers/gateway.js';

t.setTimeout(120_000);

const BEDS = ['1', '2', '3'];
const PER_BED = 4;

t.test(
  'charted vitals survive kill -9 with the queue non-empty: each arrives, with its control id, in order per patient',
  async (t) => {
    const enginePort = await freePort();
    const { dir, file, mqttPort } = await writeTestConfig(t, {
      devices: BEDS.map((bed) => ({ id: `pox-${bed}`, bed })),
      extra: {
        ehr: {
          host: '127.0.0.1',
          port: enginePort,
          retryMinMs: 100,
          retryMaxMs: 500,
          ackTimeoutMs: 60_000,
          connectTimeoutMs: 1000,
        },
      },
    });
    const dataDir = join(dir, 'data');
    // The engine takes the first message and never answers it: one in flight, the rest queued behind it.
    let silent = true;
    const engine = await InterfaceEngine.start(t, { port: enginePort });
    engine.answer = () => (silent ? 'none' : 'AA');

    const first = await spawnDaemon(t, file, dataDir);
    const api = `http://127.0.0.1:${first.run.ports.http}`;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${api}${path}`, {
        method,
        headers: { authorization: `Bearer ${first.run.token}`, 'content-type': 'application/json' },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    for (const bed of BEDS)
      t.equal((await call('POST', '/api/admissions', { bed, identifier: `MRN-${bed}` })).status, 201);
    for (const bed of BEDS) {
      const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
        clientId: `pox-${bed}`,
        username: `pox-${bed}`,
        password: passwordOf(`pox-${bed}`),
        reconnectPeriod: 0,
      });
      await device.publishAsync(
        `wardgate/devices/pox-${bed}/obs`,
        JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 95, unit: '%' }] }),
        { qos: 1 },
      );
      await device.endAsync();
    }

    // Charted in turns across the beds: the order each patient's messages must keep.
    const charted = new Map(BEDS.map((bed) => [bed, [] as string[]]));
    for (let i = 0; i < PER_BED; i++) {
      for (const bed of BEDS) {
        const sent = await call('POST', `/api/beds/${bed}/chart`, {
          values: [
            { metric: 'rr', value: 12 + i },
            { metric: 'temp', value: 36.5 + i / 10 },
          ],
        });
        t.equal(sent.status, 201);
        charted.get(bed)!.push(sent.body.controlId as string);
      }
    }
    await engine.waitForCount(1);
    const inFlight = engine.received[0].controlId;
    first.child.kill('SIGKILL');
    t.equal(await first.exited, 'SIGKILL');

    const db = new Database(join(dataDir, 'wardgate.db'), { readonly: true });
    t.equal(
      (
        db.prepare("SELECT count(*) AS n FROM outbound_messages WHERE link = 'ehr' AND state = 'queued'").get() as {
          n: number;
        }
      ).n,
      BEDS.length * PER_BED,
      'every message is still queued after the kill',
    );
    db.close();

    silent = false;
    const second = await spawnDaemon(t, file, dataDir);
    const all = [...charted.values()].flat();
    await waitFor(
      () => (all.every((id) => engine.controlIds().includes(id)) ? true : undefined),
      30_000,
      'every charted message at the engine',
    );

    t.same(new Set(engine.controlIds()), new Set(all), 'the engine received exactly the charted control ids');
    const copies = new Map<string, string[]>();
    for (const r of engine.received) copies.set(r.controlId, [...(copies.get(r.controlId) ?? []), r.text]);
    for (const [id, texts] of copies) {
      if (id === inFlight) t.equal(texts.length, 2, 'the message in flight at the kill came again after the restart');
      else t.equal(texts.length, 1, `${id} once`);
      t.ok(
        texts.every((text) => text === texts[0]),
        `${id}: every copy the same message`,
      );
    }
    for (const bed of BEDS) {
      const arrived = engine.controlIds().filter((id) => charted.get(bed)!.includes(id));
      t.same(arrived, charted.get(bed), `bed ${bed}: in charting order`);
      const pid = engine.received
        .find((r) => r.controlId === charted.get(bed)![0])!
        .message.getSegment('PID')!
        .getComponent(3, 1);
      t.equal(pid, `MRN-${bed}`, `bed ${bed}: the patient's identifier`);
    }
    await waitFor(
      () => {
        const check = new Database(join(dataDir, 'wardgate.db'), { readonly: true });
        const n = (
          check.prepare("SELECT count(*) AS n FROM outbound_messages WHERE state = 'sent'").get() as { n: number }
        ).n;
        check.close();
        return n === all.length ? true : undefined;
      },
      10_000,
      'all marked sent',
    );
    second.child.kill('SIGTERM');
    t.equal(await second.exited, 0);
  },
);
