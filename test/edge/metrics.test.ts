// An idle gateway lets its main thread sleep: on a small box, every timer wake
// costs CPU (and power) whether or not a device is connected. The event-loop
// lag histogram is still exported for whoever scrapes /metrics.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { spawnDaemon, writeTestConfig } from '../helpers/gateway.js';

/** How many times the process's main thread has gone to sleep and been woken. */
function mainThreadWakes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
  return Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status)?.[1]);
}

t.test('an idle daemon wakes its main thread a few times a second, not a hundred', async (t) => {
  const { dir, file, httpPort } = await writeTestConfig(t);
  const daemon = await spawnDaemon(t, file, join(dir, 'data'));
  const pid = daemon.child.pid!;
  // Past the start's own work (module compilation, the first jobs).
  await new Promise((r) => setTimeout(r, 2000));
  const before = mainThreadWakes(pid);
  await new Promise((r) => setTimeout(r, 3000));
  const perSecond = (mainThreadWakes(pid) - before) / 3;
  // The lag histogram every 100 ms, the engine's and the dashboard's 1 s ticks: about 15; with a 10 ms sampler, 100+.
  t.ok(perSecond < 40, `${perSecond.toFixed(1)} wakes a second`);

  const scraped = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  t.match(scraped, /^wardgate_process_nodejs_eventloop_lag_p99_seconds \d/m);
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0);
});
