// `wardgate simulate`: a simulated ward against a running gateway (MQTT,
// serial pty pairs, HL7), or, with --dry-run, its stream as JSON lines.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, parseCommandArgs, type Command, type CommandIO } from '../../shared/cli.js';
import { WardgateError } from '../../shared/errors.js';
import { isPlainObject } from '../../shared/observation.js';
import { parseDuration } from '../scenarios.js';
import { createLinks, Session } from '../session.js';
import { SerialDevice } from '../transports/serialDevice.js';
import { Ward } from '../ward.js';
import { buildPlans } from './plans.js';

const help = `Usage: wardgate simulate [options]

Simulated bedside devices with plausible, seeded physiology, playing
scenarios against a running gateway ('wardgate edge').

Ward:
      --beds N              beds 1..N (default 8), each with an MQTT monitor (mon-N)
      --scenario BED=SCRIPT a bed's script, repeatable: steps kind[@start][/duration]
                            joined by '+', e.g. 2=sepsis@10m/4h+desat@30m/3m
                            kinds: stable, sepsis, desat, artifact, sensor-off, unplug,
                            battery, malformed, blip
      --serial BED=FORMAT   the bed's SpO2 and pulse come from an oximeter (pox-N) on a
                            socat pseudo-terminal, FORMAT masimo, nonin or xpod
                            (Nonin data format #7; driver nonin-binary-7) (repeatable)
      --hl7 BED             the bed's monitor reports over HL7 PCD-01 / MLLP (repeatable)
      --demo-mix            the demo's eight beds and scenarios
      --seed N              the same seed plays the same ward (default 1)
      --duration D          run length in scenario time: 90s, 15m, 4h (default 1h)
      --speed M             scenario seconds per real second (default 1); with many
                            beds, this is the load mode for benchmarks
      --nibp-every D        NIBP cycle (default 15m); --temp-every D (default 30m)
Gateway:
      --mqtt URL            broker (default mqtt://127.0.0.1:1883; loopback only)
      --credentials FILE    JSON {"mon-1": "password", ...}, mode 0600
      --lean                MQTT devices on lean raw-socket connections instead of
                            mqtt.js: a floor of 1,000 beds from one process
      --hl7-port N          HL7 listener on 127.0.0.1 (default 2575)
      --dir DIR             seq reservations and pty links (default ./data/simulator)
Output:
      --labels FILE         write the scenario labels (JSON) for scoring
      --dry-run             print the stream as JSON lines (no gateway needed) and exit`;

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'simulated bedside devices and scenarios against a gateway (or --dry-run)',
  help,
  async run(io: CommandIO): Promise<number> {
    const { values: v } = parseCommandArgs(io.argv, {
      beds: { type: 'string' },
      scenario: { type: 'string', multiple: true },
      serial: { type: 'string', multiple: true },
      hl7: { type: 'string', multiple: true },
      'demo-mix': { type: 'boolean' },
      seed: { type: 'string' },
      duration: { type: 'string' },
      speed: { type: 'string' },
      'nibp-every': { type: 'string' },
      'temp-every': { type: 'string' },
      mqtt: { type: 'string' },
      credentials: { type: 'string' },
      lean: { type: 'boolean' },
      'hl7-port': { type: 'string' },
      dir: { type: 'string' },
      labels: { type: 'string' },
      'dry-run': { type: 'boolean' },
    });
    if (v.help) {
      io.stdout.write(`${help}\n`);
      return ExitCode.ok;
    }
    const seed = wholeNumber(v.seed ?? '1', '--seed', 0);
    const speed = Number(v.speed ?? '1');
    if (!(speed > 0 && speed <= 10_000))
      throw new WardgateError('WG_ERR_USAGE', 'expected a number above 0 and at most 10000', '--speed');
    const plans = buildPlans({
      beds: wholeNumber(v.beds ?? '8', '--beds', 1),
      scenarios: v.scenario ?? [],
      serial: v.serial ?? [],
      hl7: v.hl7 ?? [],
      demoMix: v['demo-mix'] === true,
    });
    const cadence = {
      nibpEveryS: parseDuration(v['nibp-every'] ?? '15m', '--nibp-every'),
      tempEveryS: parseDuration(v['temp-every'] ?? '30m', '--temp-every'),
    };
    const ward = new Ward({ seed, duration: parseDuration(v.duration ?? '1h', '--duration'), plans, cadence });

    if (v['dry-run']) {
      if (v.labels) writeFileSync(v.labels, `${JSON.stringify(ward.labels(speed, null), null, 2)}\n`);
      for (const second of ward.stream()) for (const e of second) io.stdout.write(`${JSON.stringify(e)}\n`);
      return ExitCode.ok;
    }

    const dir = v.dir ?? join('data', 'simulator');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const session = new Session(
      createLinks(plans, {
        mqttUrl: v.mqtt ?? 'mqtt://127.0.0.1:1883',
        hl7: { host: '127.0.0.1', port: wholeNumber(v['hl7-port'] ?? '2575', '--hl7-port', 1) },
        credentials: readCredentials(v.credentials ?? io.env.WARDGATE_SIM_CREDENTIALS),
        stateDir: dir,
        ptyDir: join(dir, 'tty'),
        lean: v.lean === true,
      }),
    );
    const aborted = new AbortController();
    const stop = () => aborted.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await session.start();
      for (const link of session.links.values()) {
        if (link instanceof SerialDevice)
          io.stdout.write(`wardgate simulate: ${link.deviceId} on serial port ${link.gatewayPath}\n`);
      }
      const startTs = Date.now();
      if (v.labels) writeFileSync(v.labels, `${JSON.stringify(ward.labels(speed, startTs), null, 2)}\n`);
      io.stdout.write(
        `wardgate simulate: ${plans.length} beds, ${session.links.size} devices, seed ${seed}, ${speed}x; Ctrl-C stops\n`,
      );
      const cpuBefore = process.cpuUsage();
      const summary = await session.run(ward, speed, startTs, aborted.signal);
      const wall = (Date.now() - startTs) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      io.stdout.write(
        `wardgate simulate: ${summary.seconds} s of scenario in ${wall.toFixed(1)} s, ${summary.sent} messages acknowledged (${(summary.sent / Math.max(wall, 0.001)).toFixed(0)}/s), ${summary.failed} refused or lost; simulator CPU ${(((cpu.user + cpu.system) / 1e6 / Math.max(wall, 0.001)) * 100).toFixed(1)} % of a core\n`,
      );
      return ExitCode.ok;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await session.stop();
    }
  },
};

function wholeNumber(text: string, what: string, min: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min)
    throw new WardgateError('WG_ERR_USAGE', `expected a whole number >= ${min}`, what);
  return n;
}

/** Device passwords from a file only its owner may read. */
export function readCredentials(file: string | undefined): Record<string, string> {
  if (file === undefined) return {};
  let text: string;
  try {
    if ((statSync(file).mode & 0o077) !== 0)
      throw new WardgateError('WG_ERR_CONFIG', `${file} must have mode 0600 (it holds passwords)`, '--credentials');
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof WardgateError) throw err;
    throw new WardgateError('WG_ERR_CONFIG', `cannot read ${file} (${(err as Error).message})`, '--credentials');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!isPlainObject(parsed) || !Object.values(parsed).every((p) => typeof p === 'string')) {
    throw new WardgateError('WG_ERR_CONFIG', 'expected JSON {"<device id>": "<password>"}', '--credentials');
  }
  return parsed as Record<string, string>;
}
