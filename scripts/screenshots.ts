// Makes the dashboard screenshots in docs/ (dashboard-ward.png,
// dashboard-bed.png): a gateway in this process with eight simulated beds and
// four hours of history, viewed in headless Chromium. Run after the build:
//   npx tsc -p . && node dist/scripts/screenshots.js
// Needs the chromium package (scripts/test-deps.js installs it).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { chromium } from 'playwright-core';
import { stringify } from 'yaml';
import { hashPassword } from '../edge/auth/password.js';
import { loadConfig } from '../edge/config/load.js';
import { Gateway } from '../edge/gateway.js';
import { createLogger } from '../edge/log.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'wardgate-shots-'));
const pw = (name: string) => `${name}-screenshot`;

type Vitals = Record<string, number>;
interface Bed {
  bed: string;
  name?: string;
  base: Vitals;
  trend?: (minutesAgo: number) => Vitals;
}
const beds: Bed[] = [
  { bed: '1', name: 'J. Smith', base: { spo2: 97, pr: 72, rr: 14, nibp_sys: 124, nibp_dia: 78, temp: 36.8 } },
  { bed: '2', name: 'M. Okafor', base: { spo2: 95, pr: 93, rr: 22, nibp_sys: 132, nibp_dia: 84, temp: 37.4 } },
  {
    bed: '3',
    name: 'R. Patel',
    base: { spo2: 86, pr: 118, rr: 26, nibp_sys: 104, nibp_dia: 62, temp: 38.4 },
    // Deteriorating over the last two hours: the chart a nurse needs to see.
    trend: (m) => {
      const k = Math.max(0, Math.min(1, (120 - m) / 120));
      return {
        spo2: 97 - 11 * k,
        pr: 78 + 40 * k,
        rr: 15 + 11 * k,
        nibp_sys: 128 - 24 * k,
        nibp_dia: 80 - 18 * k,
        temp: 36.9 + 1.5 * k,
      };
    },
  },
  { bed: '4', base: { spo2: 98, pr: 64, rr: 12, nibp_sys: 118, nibp_dia: 72, temp: 36.5 } },
  { bed: '5', name: 'A. Nowak', base: { spo2: 95, pr: 84, rr: 17, nibp_sys: 141, nibp_dia: 88, temp: 37.1 } },
  { bed: '6', name: 'K. Lindqvist', base: { spo2: 96, pr: 58, rr: 16, nibp_sys: 112, nibp_dia: 70, temp: 36.3 } },
  { bed: '7', name: 'L. García', base: { spo2: 96, pr: 88, rr: 18, nibp_sys: 88, nibp_dia: 54, temp: 36.9 } },
  { bed: '8', base: {} },
];
const units: Record<string, string> = {
  spo2: '%',
  pr: '/min',
  rr: '/min',
  nibp_sys: 'mm[Hg]',
  nibp_dia: 'mm[Hg]',
  temp: 'Cel',
};
const spot = new Set(['nibp_sys', 'nibp_dia', 'temp']);

async function main(): Promise<void> {
  const users = [
    { name: 'nurse-ann', role: 'nurse' },
    { name: 'biomed', role: 'admin' },
  ];
  const doc = {
    ward: '3B',
    gateway: { id: 'gw-3b', dataDir: join(dir, 'data') },
    mqtt: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    devices: await Promise.all(
      beds.map(async (b) => ({
        id: `mon-${b.bed}`,
        bed: b.bed,
        secretHash: await hashPassword(pw(`mon-${b.bed}`), { logN: 10 }),
        ...(b.bed === '6' && { silentAfterMs: 3000 }),
      })),
    ),
    users: await Promise.all(
      users.map(async (u) => ({ ...u, secretHash: await hashPassword(pw(u.name), { logN: 10 }) })),
    ),
    // No condition delays: the scene is built in seconds, not minutes.
    alarms: {
      limits: { spo2: { delayMs: 0 }, pulse: { delayMs: 0 }, rr: { delayMs: 0 } },
      news2: { delayMs: 0 },
      technical: { sensorDelayMs: 0 },
    },
    log: { level: 'warn' },
  };
  const file = join(dir, 'wardgate.yaml');
  writeFileSync(file, stringify(doc));
  const gateway = new Gateway(loadConfig({ file, env: {} }), { log: createLogger('warn') });
  await gateway.start();
  const api = `http://127.0.0.1:${gateway.ports.http}`;
  const admin = {
    authorization: `Basic ${Buffer.from(`biomed:${pw('biomed')}`).toString('base64')}`,
    'content-type': 'application/json',
  };
  for (const [i, b] of beds.entries()) {
    if (b.bed === '8') continue;
    const body = { bed: b.bed, identifier: `SCREENSHOT-${i}`, ...(b.name && { displayName: b.name }) };
    await fetch(`${api}/api/admissions`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
  }
  await fetch(`${api}/api/beds/2/settings`, {
    method: 'PUT',
    headers: admin,
    body: JSON.stringify({ onOxygen: true, consciousness: 'A' }),
  });
  await fetch(`${api}/api/beds/3/settings`, {
    method: 'PUT',
    headers: admin,
    body: JSON.stringify({ onOxygen: true, consciousness: 'A' }),
  });
  await fetch(`${api}/api/beds/1/settings`, {
    method: 'PUT',
    headers: admin,
    body: JSON.stringify({ consciousness: 'A' }),
  });

  const devices = await Promise.all(
    beds.map((b) =>
      mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.ports.mqtt}`, {
        clientId: `mon-${b.bed}`,
        username: `mon-${b.bed}`,
        password: pw(`mon-${b.bed}`),
        reconnectPeriod: 0,
      }),
    ),
  );
  const seq = new Map<string, number>();
  const publish = (b: Bed, values: Vitals, ts?: number) => {
    const obs = Object.entries(values).map(([code, value]) => ({
      code,
      value: Math.round(value * 10) / 10,
      unit: units[code],
    }));
    const n = (seq.get(b.bed) ?? 0) + 1;
    seq.set(b.bed, n);
    return devices[beds.indexOf(b)].publishAsync(
      `wardgate/devices/mon-${b.bed}/obs`,
      JSON.stringify({ seq: n, ...(ts && { ts }), obs }),
      { qos: 1 },
    );
  };
  const noise = (v: number, code: string) =>
    v +
    (code === 'temp' ? 0.1 : code.startsWith('nibp') ? 3 : code === 'spo2' ? 0.8 : 2) *
      Math.sin(v * 7 + Math.random() * 6);
  // Four hours of history, one sample a minute (NIBP and temperature every half hour).
  const now = Date.now();
  for (let m = 240; m >= 2; m--) {
    await Promise.all(
      beds
        .filter((b) => Object.keys(b.base).length)
        .map((b) => {
          const values = b.trend?.(m) ?? b.base;
          const sample = Object.fromEntries(
            Object.entries(values)
              .filter(([c]) => !spot.has(c) || m % 30 === 0)
              .map(([c, v]) => [c, noise(v, c)]),
          );
          return publish(b, sample, now - m * 60_000);
        }),
    );
  }
  // Now: the current values, the device states, and one acknowledged alarm.
  for (const b of beds) if (Object.keys(b.base).length) await publish(b, b.base);
  const status = (bed: string, body: unknown) =>
    devices[beds.findIndex((b) => b.bed === bed)].publishAsync(
      `wardgate/devices/mon-${bed}/status`,
      JSON.stringify(body),
      { qos: 1 },
    );
  await status('4', { battery: 12 });
  await status('5', { sensor: 'off' });
  await status('1', { battery: 86 });
  await new Promise((r) => setTimeout(r, 500));
  const nurse = {
    authorization: `Basic ${Buffer.from(`nurse-ann:${pw('nurse-ann')}`).toString('base64')}`,
    'content-type': 'application/json',
  };
  const open = (await (await fetch(`${api}/api/alarms`, { headers: nurse })).json()) as {
    alarms: Array<{ id: string; bed: string }>;
  };
  for (const a of open.alarms.filter((x) => x.bed === '7'))
    await fetch(`${api}/api/alarms/${a.id}/ack`, { method: 'POST', headers: nurse });
  const live = setInterval(() => {
    for (const b of beds)
      if (Object.keys(b.base).length && b.bed !== '6')
        void publish(
          b,
          Object.fromEntries(
            Object.entries(b.base)
              .filter(([c]) => !spot.has(c))
              .map(([c, v]) => [c, noise(v, c)]),
          ),
        );
  }, 1000);
  await new Promise((r) => setTimeout(r, 4500)); // bed 6 falls silent

  const profile = join(dir, 'chromium');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1680, height: 1000 },
    deviceScaleFactor: 1,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  try {
    const page = await context.newPage();
    await page.emulateMedia({ reducedMotion: 'reduce' });
    await page.goto(`${api}/`);
    await page.fill('#login-name', 'nurse-ann');
    await page.fill('#login-password', pw('nurse-ann'));
    await page.click('#login-submit');
    await page.waitForSelector('.tile[data-bed="8"]');
    await page.waitForTimeout(1500);
    await page.screenshot({ path: join(ROOT, 'docs', 'dashboard-ward.png') });
    await page.goto(`${api}/#/bed/3`);
    await page.waitForSelector('figure[data-chart="spo2"] polyline.line');
    await page.setViewportSize({ width: 1680, height: 1400 });
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(ROOT, 'docs', 'dashboard-bed.png') });
    console.log('wrote docs/dashboard-ward.png and docs/dashboard-bed.png');
  } finally {
    clearInterval(live);
    await context.close();
    await Promise.all(devices.map((d) => d.endAsync(true)));
    await gateway.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
