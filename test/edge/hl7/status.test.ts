// `wardgate status` shows what the HL7 listener saw of its senders, from the
// file the daemon writes, whether or not the daemon still runs: each sender's
// clock against the gateway's, the demo or test rows it sent (not stored),
// and the codes the gateway does not map. Real daemon, real MLLP, corpus
// messages.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { freePort } from '../../helpers/env.js';
import { spawnDaemon, spawnWardgate, writeTestConfig } from '../../helpers/gateway.js';
import { MllpClient } from '../../helpers/mllp.js';

t.setTimeout(90_000);

const corpus = (name: string) =>
  `${readFileSync(new URL(`../../corpus/hl7/${name}`, import.meta.url), 'utf8')
    .trimEnd()
    .split('\n')
    .join('\r')}\r`;

t.test(
  'senders: clock offset, demo rows and unmapped codes in status --json and text, after the daemon stopped',
  async (t) => {
    const port = await freePort();
    const { dir, file } = await writeTestConfig(t, {
      extra: {
        hl7: {
          port,
          senders: [
            { application: 'LinkWatchAndroid', beds: ['Bed1'] },
            { application: 'SendingApplication', beds: ['23'], timeZone: 'America/New_York' },
          ],
        },
      },
    });
    const daemon = await spawnDaemon(t, file, join(dir, 'data'));
    const client = await MllpClient.connect(t, daemon.run.ports.hl7!);
    // The samples' MSH-7 are years old: as seen from now, those clocks are years behind.
    client.send(corpus('linkwatch-pcd01-bp.hl7'));
    client.send(corpus('philips-intellivue-mx500-pocd.hl7').replace('| SendingApplication|', '|LinkWatchAndroid|'));
    client.send(corpus('nist-pcd01-pulse-oximetry-panel.hl7'));
    const acks = await client.waitForAcks(3);
    t.same(
      acks.map((a) => a.code),
      ['AA', 'AA', 'AA'],
    );
    daemon.child.kill('SIGTERM');
    t.equal(await daemon.exited, 0);

    const status = spawnWardgate(t, ['status', '--config', file, '--json']);
    t.equal(await status.exited, 0, status.output());
    const report = JSON.parse(status.output()) as {
      hl7: {
        senders: Array<{ sender: string; clockOffsetSeconds: number; demoRows: number }>;
        unmappedCodes: Record<string, number>;
      };
    };
    const linkwatch = report.hl7.senders.find((s) => s.sender === 'LinkWatchAndroid')!;
    // Its last message was the IntelliVue sample, MSH-7 20210425230332.872-0400.
    const expected = (Date.UTC(2021, 3, 26, 3, 3, 32, 872) - Date.now()) / 1000;
    t.ok(
      Math.abs(linkwatch.clockOffsetSeconds - expected) < 120,
      `the clock at the sender's last message (${linkwatch.clockOffsetSeconds} s, about ${Math.round(expected)})`,
    );
    t.equal(linkwatch.demoRows, 1, "the IntelliVue demo message's heart rate, counted, not stored");
    t.ok(report.hl7.senders.some((s) => s.sender === 'SendingApplication'));
    t.same(report.hl7.unmappedCodes, { '184327': 1 });

    const text = spawnWardgate(t, ['status', '--config', file]);
    t.equal(await text.exited, 0);
    t.match(
      text.output(),
      /hl7 senders {3}2\n {2}LinkWatchAndroid: last \S+, clock -\d+ s \(MSH-7 - arrival\), 1 demo\/test rows not stored/,
    );
    t.match(text.output(), /hl7 unmapped {2}184327 1/);
  },
);
