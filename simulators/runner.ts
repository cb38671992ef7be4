// Plays a ward in wall-clock time: scenario second t is due at
// start + t * 1000 / speed, and every emission is stamped with that wall
// time, so at speed M the gateway simply sees patients living M times faster.
// Each device's emissions go out in order (a promise chain per device);
// devices never wait for one another.
import type { Emission } from './bed.js';
import type { DeviceLink } from './transports/link.js';
import type { Ward } from './ward.js';

export interface RunOptions {
  readonly ward: Ward;
  readonly links: ReadonlyMap<string, DeviceLink>;
  /** Scenario seconds per wall-clock second (1: real time). */
  readonly speed: number;
  readonly startTs: number;
  readonly signal?: AbortSignal;
  /** Called once per scenario second, after that second's emissions were handed out. */
  readonly onSecond?: (t: number, emissions: readonly Emission[]) => void;
}

export interface RunSummary {
  readonly seconds: number;
  readonly emissions: number;
  readonly sent: number;
  readonly failed: number;
}

export async function runWard(o: RunOptions): Promise<RunSummary> {
  const chains = new Map<string, Promise<void>>();
  let emissions = 0;
  let t = 0;
  for (const second of o.ward.stream()) {
    if (o.signal?.aborted) break;
    const due = o.startTs + (t * 1000) / o.speed;
    const wait = due - Date.now();
    if (wait > 1) await sleep(wait, o.signal);
    for (const e of second) {
      const link = o.links.get(e.deviceId);
      if (!link) continue;
      emissions++;
      const ts = Math.round(due);
      const previous = chains.get(e.deviceId) ?? Promise.resolve();
      // A failing send is the transport's to count; it must not stop the device's next message.
      chains.set(
        e.deviceId,
        previous.then(() => link.send(e, ts)).catch(() => undefined),
      );
    }
    o.onSecond?.(t, second);
    t++;
  }
  await Promise.all(chains.values());
  const links = [...o.links.values()];
  return {
    seconds: t,
    emissions,
    sent: links.reduce((n, l) => n + l.counts.sent, 0),
    failed: links.reduce((n, l) => n + l.counts.failed, 0),
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
