// What the demo prints once the ward is up: where to look and how to log in.
import { relative } from 'node:path';
import { topics } from '../../shared/topics.js';
import type { BedPlan } from '../labels.js';
import { formatStep } from '../scenarios.js';
import { DEMO_WARD, type DemoFiles, type DemoPorts } from './wardConfig.js';

export interface Guide {
  readonly dir: string;
  readonly ports: DemoPorts;
  readonly files: DemoFiles;
  readonly bin: string;
  readonly plans: readonly BedPlan[];
  /** The local functions, or why the cloud part is off. */
  readonly cloud: { url: string; apiToken: string } | 'off' | 'no-gcloud';
  readonly serial: boolean;
  readonly seed: number;
  readonly speed: number;
}

export function printGuide(out: NodeJS.WritableStream, g: Guide): void {
  const { ports, files } = g;
  const bin = relative(process.cwd(), g.bin) || g.bin;
  const lines = [
    '',
    `ward ${DEMO_WARD} is running: ${g.plans.length} beds, seed ${g.seed}, ${g.speed}x real time`,
    '',
    `  dashboard   http://127.0.0.1:${ports.http}/   (user station, password ${files.people.station})`,
    `  MQTT        mqtt://127.0.0.1:${ports.mqtt}   alarms on ${topics.wardAlarms(DEMO_WARD)}, vitals on ${topics.bedVitals(DEMO_WARD, '+')}`,
    `              mosquitto_sub -h 127.0.0.1 -p ${ports.mqtt} -u station -P '${files.people.station}' -t '${topics.wardPrefix(DEMO_WARD)}#' -v`,
    `  status      ${Object.keys(files.edgeEnv).length ? `env $(cat ${files.envFile}) ` : ''}node ${bin} status --config ${files.configFile}`,
    `  HL7         127.0.0.1:${ports.hl7} (PCD-01 over MLLP)`,
    typeof g.cloud === 'object'
      ? `  cloud       ${g.cloud.url}/wardApi/wards/${DEMO_WARD}/overview   (Authorization: Bearer ${g.cloud.apiToken})`
      : `  cloud       off (${g.cloud === 'off' ? '--no-cloud' : 'gcloud is not installed'}): the edge buffers, nothing is synced`,
    `  files       ${g.dir} (config, credentials.json and labels.json; mode 0600, this run only)`,
    ...(g.serial ? [] : ['  serial      off (socat is not installed): every oximeter is on MQTT']),
    '',
    '  beds:',
    ...g.plans.map(
      (p) =>
        `    ${p.bed.padStart(2)}  ${p.devices
          .map((d) => `${d.id} (${d.transport})`)
          .join(', ')
          .padEnd(34)} ${p.script.map(formatStep).join(' + ')}`,
    ),
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  out.write(`${lines.join('\n')}\nwardgate demo: ready\n`);
}
