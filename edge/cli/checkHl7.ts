// `wardgate check hl7 FILE...`: reads captured HL7 traffic offline and says,
// per message and per OBX row, what the gateway would store, flag or refuse
// and why, under the ward's sender policy and location map when --config is
// given. Go-live work on a ward starts here: capture what the monitors send,
// check it, fix the config (senders, time zones, locations), check again.
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/load.js';
import { LocationMap } from '../hl7/locationMap.js';
import { previewMessage, splitCapture, type MessagePreview } from '../hl7/preview.js';
import { SenderPolicy, type DeclaredElsewhere } from '../hl7/senderPolicy.js';
import { ExitCode, parseCommandArgs, type Command, type CommandIO } from '../../shared/cli.js';
import { WardgateError } from '../../shared/errors.js';

const HELP = `Usage: wardgate check hl7 [--config FILE] [--address IP] [--json] FILE...

Reads captured HL7 v2 traffic (files of one or more messages, MLLP-framed or
plain text with CR, LF or CR LF between segments) and prints, per message and
per OBX row, what the gateway would store (with its unit, time and flags),
which rows it would refuse and why, and the ACK it would answer. Nothing is
stored and nothing is sent. Patient identifiers are never printed.

Options:
  -c, --config FILE   apply this ward's hl7 sender policy (hl7.senders, with
                      their time zones), location map (hl7.locations) and
                      ingest.maxFutureSkewMs; without it, any sender is
                      accepted as an unlisted one (no time zone, no map)
      --address IP    the address the capture came from, for senders listed
                      with addresses
      --json          one JSON document: { files: [{ file, messages: [...] }] }

Exit codes: 0 every message and row would be accepted, 1 some message or
row would be refused, 2 bad usage or configuration, or an unreadable file.`;

export const checkHl7Command: Command = {
  name: 'hl7',
  summary: 'captured HL7 messages, message by message and row by row (FILE...)',
  help: HELP,
  async run(io: CommandIO): Promise<number> {
    const { values, positionals } = parseCommandArgs(
      io.argv,
      { config: { type: 'string', short: 'c' }, address: { type: 'string' }, json: { type: 'boolean' } },
      true,
    );
    if (values.help) {
      io.stdout.write(`${HELP}\n`);
      return ExitCode.ok;
    }
    const files = positionals;
    if (files.length === 0)
      throw new WardgateError('WG_ERR_USAGE', 'expected at least one FILE of captured HL7 messages');
    const config = values.config === undefined ? undefined : loadConfig({ file: values.config, env: io.env });
    const ctx = contextFor(config);
    const now = Date.now();
    const results: Array<{ file: string; messages: MessagePreview[] }> = [];
    for (const file of files) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch (err) {
        throw new WardgateError(
          'WG_ERR_USAGE',
          `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
      results.push({
        file,
        messages: splitCapture(bytes).map((text, i) => previewMessage(text, i + 1, values.address ?? '', now, ctx)),
      });
    }
    io.stdout.write(
      values.json ? `${JSON.stringify({ files: results }, null, 2)}\n` : results.map(formatFile).join('\n'),
    );
    // As `check serial`: a script or a go-live checklist can stop on 1 without reading the verdicts.
    const refused = results.some((f) => f.messages.some((m) => m.refused !== undefined || m.rowsRefused.length > 0));
    return refused ? ExitCode.failure : ExitCode.ok;
  },
};

function contextFor(config: GatewayConfig | undefined) {
  const hl7 = config?.hl7;
  const declared: DeclaredElsewhere[] = [];
  if (config) {
    const serial = new Map(config.serial.map((p) => [p.deviceId, p]));
    const viaHl7 = new Set(hl7?.senders.flatMap((s) => s.devices ?? []));
    for (const d of config.devices) {
      const bed = d.bed ?? serial.get(d.name)?.bed;
      declared.push({
        id: d.name,
        ...(bed !== undefined && { bed }),
        source: serial.has(d.name) ? 'serial' : viaHl7.has(d.name) ? 'hl7' : 'mqtt',
      });
    }
    const named = new Set(config.devices.map((d) => d.name));
    for (const p of config.serial)
      if (!named.has(p.deviceId))
        declared.push({ id: p.deviceId, ...(p.bed !== undefined && { bed: p.bed }), source: 'serial' });
  }
  return {
    policy: new SenderPolicy({
      senders: hl7?.senders ?? [],
      allowedApplications: hl7?.allowedApplications ?? [],
      declared,
      // Without a config, every sender is checked as an unlisted one in lab mode: what the mapping does, not who may send.
      openToUnknown: config === undefined || (config.ingest.acceptUnknownDevices && hl7 !== undefined),
    }),
    locations: new LocationMap(hl7?.locations ?? [], hl7?.otherLocations ?? 'refuse'),
    maxSegments: hl7?.maxSegmentsPerMessage ?? 2000,
    maxFutureSkewMs: config?.ingest.maxFutureSkewMs ?? 300_000,
  };
}

function formatFile({ file, messages }: { file: string; messages: MessagePreview[] }): string {
  const lines = [`${file}: ${messages.length} message(s)`];
  for (const m of messages) {
    const head = [`  message ${m.index}`, m.controlId && `(MSH-10 ${m.controlId})`, `-> ${m.ack}`]
      .filter(Boolean)
      .join(' ');
    lines.push(head);
    if (m.refused) {
      lines.push(
        `    refused ${m.refused.code}${m.refused.where ? ` at ${m.refused.where}` : ''}: ${m.refused.message}`,
      );
      continue;
    }
    if (m.demo) lines.push(`    demo: ${m.demo}`);
    const context = [
      m.bed ? `bed ${m.bed}` : 'no bed',
      m.patient === 'named'
        ? 'patient from PID-3'
        : m.patient === 'placeholder'
          ? 'PID-3 is a placeholder: no patient'
          : 'no patient',
    ];
    if (m.clockOffsetSeconds !== undefined) context.push(`MSH-7 is ${m.clockOffsetSeconds} s from now`);
    lines.push(`    ${context.join(', ')}`);
    for (const r of m.stored) {
      lines.push(
        `    store  OBX(${r.row}) ${r.device} ${r.code} = ${r.value} ${r.unit} at ${r.ts}${r.flags.length ? ` [${r.flags.join(', ')}]` : ''}`,
      );
    }
    for (const r of m.rowsRefused) lines.push(`    refuse ${r.where} ${r.code}: ${r.message}`);
    const skipped = Object.entries(m.skipped).map(([reason, n]) => `${n} ${reason}`);
    if (skipped.length) lines.push(`    not readings: ${skipped.join(', ')}`);
    if (m.unmapped.length) lines.push(`    codes not mapped (counted): ${m.unmapped.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}
