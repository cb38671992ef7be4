// Dashboard benchmark: a 30-bed ward publishing at 1 Hz to `wardgate edge`
// (a child process), watched by 10 dashboards in headless Chromium. Measures
// the daemon's CPU with no dashboard and with ten, the time from a reading's
// commit to its display on the tile (commit time = the vital's timestamp the
// engine sets after the commit; display time = when the tile holding it is in
// the page), and the pages' frame gaps and long tasks (is it smooth).
// Run alone: npx tsc -p . && node dist/bench/dashboard.js
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { chromium } from 'playwright-core';
import { stringify } from 'yaml';
import { hashPassword } from '../edge/auth/password.js';
import { RUN_FILE, type RunInfo } from '../edge/gateway.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BEDS = 30;
const DASHBOARDS = 10;
const WINDOW_MS = 20_000;
const pw = (name: string) => `${name}-bench-password`;

const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
};
const pct = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
/**
 * Runs in each page: when a tile with a newer pulse value is put in the page,
 * record how long after its commit; record the gaps between frames and the
 * long tasks. (A string: this module is type-checked without the DOM library.)
 */
const PAGE_PROBE = `(() => {
  window.__lat = []; window.__frames = []; window.__long = 0; const seen = new Map();
  new MutationObserver((records) => {
    const now = Date.now();
    for (const r of records) for (const el of r.addedNodes) {
      const value = el.querySelector && el.querySelector('[data-vital="pulse"] .value[data-vital-ts]');
      const bed = el.getAttribute && el.getAttribute('data-bed');
      if (!value || !bed) continue;
      const ts = Number(value.getAttribute('data-vital-ts'));
      if ((seen.get(bed) || 0) >= ts) continue;
      seen.set(bed, ts);
      window.__lat.push(now - ts);
    }
  }).observe(document.querySelector('.ward-grid'), { childList: true });
  new PerformanceObserver((list) => { window.__long += list.getEntries().length; }).observe({ type: 'longtask' });
  let last = performance.now();
  const frame = (t) => { window.__frames.push(t - last); last = t; requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
})()`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runDashboardBench(log: (line: string) => void = () => {}): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-dash-bench-'));
  const devices = await Promise.all(
    Array.from({ length: BEDS }, async (_, i) => ({
      id: `mon-${i + 1}`,
      bed: String(i + 1),
      secretHash: await hashPassword(pw(`mon-${i + 1}`), { logN: 10 }),
    })),
  );
  const config = {
    ward: 'bench',
    gateway: { id: 'gw-bench', dataDir: join(dir, 'data') },
    mqtt: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    devices,
    users: [{ name: 'nurse', role: 'nurse', secretHash: await hashPassword(pw('nurse'), { logN: 10 }) }],
    log: { level: 'error' },
  };
  const file = join(dir, 'wardgate.yaml');
  writeFileSync(file, stringify(config));
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'wardgate.js'), 'edge', '--config', file], {
    stdio: 'ignore',
  });
  const clients: MqttClient[] = [];
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  const context = { close: async () => {} };
  try {
    let run: RunInfo | undefined;
    for (let i = 0; i < 300 && !run; i++) {
      await sleep(50);
      try {
        run = JSON.parse(readFileSync(join(dir, 'data', RUN_FILE), 'utf8')) as RunInfo;
      } catch {
        /* not yet */
      }
    }
    if (!run) throw new Error('the daemon did not start');
    const origin = `http://127.0.0.1:${run.ports.http}`;
    for (const d of devices)
      clients.push(
        await mqtt.connectAsync(`mqtt://127.0.0.1:${run.ports.mqtt}`, {
          clientId: d.id,
          username: d.id,
          password: pw(d.id),
          reconnectPeriod: 0,
        }),
      );
    let seq = 0;
    // Every bed at 1 Hz, spread over the second as real monitors are.
    timer = setInterval(() => {
      seq += 1;
      clients.forEach((c, i) =>
        setTimeout(
          () => {
            // A publish due after the run's end (the interval is cleared, the clients are closing) is not made.
            if (stopping) return;
            const obs = [
              { code: 'spo2', value: 94 + (seq % 5), unit: '%' },
              { code: 'pr', value: 70 + ((seq + i) % 20), unit: '/min' },
              { code: 'rr', value: 14 + (seq % 4), unit: '/min' },
            ];
            c.publishAsync(`wardgate/devices/${devices[i].id}/obs`, JSON.stringify({ seq, obs }), { qos: 1 }).catch(
              (err: Error) => {
                if (!stopping) log(`publish failed: ${err.message}`);
              },
            );
          },
          (i * 1000) / BEDS,
        ),
      );
    }, 1000);
    await sleep(3000);
    let t0 = cpuSeconds(child.pid!);
    await sleep(WINDOW_MS);
    const idleCpu = (cpuSeconds(child.pid!) - t0) / (WINDOW_MS / 1000);
    log(`daemon CPU, 30 beds at 1 Hz, no dashboard: ${(idleCpu * 100).toFixed(1)} % of one core`);

    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
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
    context.close = () => browser.close();
    const pages = [];
    // One browser context per dashboard, as ten ward screens would be: a browser keeps at most
    // six HTTP/1.1 connections per host, and each open event stream holds one.
    for (let i = 0; i < DASHBOARDS; i++) {
      const page = await (await browser.newContext({ viewport: { width: 1920, height: 1080 } })).newPage();
      await page.goto(`${origin}/`);
      await page.fill('#login-name', 'nurse');
      await page.fill('#login-password', pw('nurse'));
      await page.click('#login-submit');
      await page.waitForSelector(`.tile[data-bed="${BEDS}"] [data-vital="spo2"] .value[data-vital-ts]`, {
        timeout: 30_000,
      });
      pages.push(page);
    }
    // In each page: when a tile with a newer value appears, how long after its commit; and the gaps between frames.
    for (const page of pages) await page.evaluate(PAGE_PROBE);
    t0 = cpuSeconds(child.pid!);
    await sleep(WINDOW_MS);
    const dashCpu = (cpuSeconds(child.pid!) - t0) / (WINDOW_MS / 1000);
    const results = (await Promise.all(
      pages.map((p) => p.evaluate('({ lat: window.__lat, frames: window.__frames, long: window.__long })')),
    )) as Array<{ lat: number[]; frames: number[]; long: number }>;
    const lat = results.flatMap((r) => r.lat).sort((a, b) => a - b);
    const frames = results.flatMap((r) => r.frames).sort((a, b) => a - b);
    const figures = {
      beds: BEDS,
      dashboards: DASHBOARDS,
      windowSeconds: WINDOW_MS / 1000,
      daemonCpuNoDashboardPercent: Math.round(idleCpu * 1000) / 10,
      daemonCpuTenDashboardsPercent: Math.round(dashCpu * 1000) / 10,
      commitToDisplayMs: {
        samples: lat.length,
        p50: pct(lat, 50),
        p95: pct(lat, 95),
        p99: pct(lat, 99),
        max: lat[lat.length - 1],
      },
      frameGapMs: { p50: Math.round(pct(frames, 50) * 10) / 10, p99: Math.round(pct(frames, 99) * 10) / 10 },
      longTasks: results.reduce((n, r) => n + r.long, 0),
    };
    log(`daemon CPU with ${DASHBOARDS} dashboards: ${figures.daemonCpuTenDashboardsPercent} % of one core`);
    log(
      `commit to display: p50 ${figures.commitToDisplayMs.p50} ms, p95 ${figures.commitToDisplayMs.p95} ms, p99 ${figures.commitToDisplayMs.p99} ms (${lat.length} updates)`,
    );
    log(
      `frames: p50 ${figures.frameGapMs.p50} ms, p99 ${figures.frameGapMs.p99} ms between frames; ${figures.longTasks} long tasks (> 50 ms) in ${DASHBOARDS} pages`,
    );
    return figures;
  } finally {
    stopping = true;
    clearInterval(timer);
    await context.close();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(JSON.stringify(await runDashboardBench((line) => console.log(line)), null, 2));
}
