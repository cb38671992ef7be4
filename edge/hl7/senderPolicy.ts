// Who may report what over HL7. The MLLP port has no credentials (PCD-01
// senders have none to give), so a sender is known by what it cannot easily
// change on a segregated ward network: the address it connects from, and the
// MSH-3 sending application / MSH-4 sending facility it names. Each sender
// listed in hl7.senders may report only its devices and its beds:
// - a device declared for MQTT (`devices:`) or a serial port is never reported
//   over HL7 (the config lists an HL7 monitor under a sender's `devices`);
// - a device listed under one sender is that sender's alone;
// - a PV1-3 bed must be a safe id (it becomes an MQTT topic level) and one the
//   config declares, or one listed for the sender.
// Unlisted senders are refused, unless ingest.acceptUnknownDevices (lab use)
// and no sender names that application.
import type { Hl7Config } from '../config/schema.js';
import { HL7_BED_ID } from '../config/schema.js';
import type { AckError } from './ack.js';

type SenderConfig = Hl7Config['senders'][number];

export interface SenderIdentity {
  /** The peer address, without an IPv4-mapped prefix. */
  readonly address: string;
  /** MSH-3 namespace id, decoded. */
  readonly application: string;
  /** MSH-4 namespace id, decoded. */
  readonly facility: string;
}

/** What one identified sender may report. */
export interface SenderRule {
  readonly devices?: ReadonlySet<string>;
  readonly beds?: ReadonlySet<string>;
  /** Lab use: an unlisted sender under ingest.acceptUnknownDevices; any safe bed id. */
  readonly open: boolean;
  /** The sender's clock zone (hl7.senders[].timeZone), for times that carry no offset. */
  readonly timeZone?: string;
  /** How the sender is named in metrics and status: its MSH-3 (and MSH-4) as configured, or `unlisted`. */
  readonly label: string;
}

export interface DeclaredElsewhere {
  readonly id: string;
  readonly bed?: string;
  /** Where the config says its readings arrive. */
  readonly source?: string;
}

export interface SenderPolicyOptions {
  readonly senders: readonly SenderConfig[];
  readonly allowedApplications: readonly string[];
  /** Devices and beds from `devices:` and `serial:`. */
  readonly declared: readonly DeclaredElsewhere[];
  /** ingest.acceptUnknownDevices: unlisted senders may register new equipment. */
  readonly openToUnknown: boolean;
}

const MSH3 = { segment: 'MSH', position: 1, field: 3 } as const;

export class SenderPolicy {
  readonly #senders: ReadonlyArray<{ config: SenderConfig; rule: SenderRule }>;
  readonly #allowedApplications: ReadonlySet<string>;
  /** Device id -> the source it is declared for, when that is not HL7. */
  readonly #otherSource = new Map<string, string>();
  /** Devices some sender lists: no other sender may report them. */
  readonly #owned = new Set<string>();
  readonly #declaredBeds = new Set<string>();
  readonly #openToUnknown: boolean;

  constructor(options: SenderPolicyOptions) {
    this.#openToUnknown = options.openToUnknown;
    this.#allowedApplications = new Set(options.allowedApplications);
    for (const s of options.senders) for (const d of s.devices ?? []) this.#owned.add(d);
    for (const s of options.senders) for (const b of s.beds ?? []) this.#declaredBeds.add(b);
    for (const d of options.declared) {
      if (d.bed !== undefined) this.#declaredBeds.add(d.bed);
      const source = d.source ?? 'mqtt';
      // A `devices:` entry listed under a sender is an HL7 monitor bound to a bed; a serial port is a fact of the wiring.
      if (source === 'serial' || (source !== 'hl7' && !this.#owned.has(d.id))) this.#otherSource.set(d.id, source);
    }
    this.#senders = options.senders.map((config) => ({
      config,
      rule: {
        ...(config.devices && { devices: new Set(config.devices) }),
        ...(config.beds && { beds: new Set(config.beds) }),
        ...(config.timeZone && { timeZone: config.timeZone }),
        open: false,
        label: config.facility ? `${config.application}/${config.facility}` : config.application,
      },
    }));
  }

  /** The rule a sender is under, or why it may not send at all. */
  identify(who: SenderIdentity): SenderRule | AckError {
    if (this.#allowedApplications.size && !this.#allowedApplications.has(who.application)) {
      return refusal(`sending application '${who.application}' (MSH-3) is not in hl7.allowedApplications`, MSH3);
    }
    const named = this.#senders.filter((s) => s.config.application === who.application);
    const match = named.find(
      (s) =>
        (s.config.facility === undefined || s.config.facility === who.facility) &&
        (s.config.addresses === undefined || s.config.addresses.includes(who.address)),
    );
    if (match) return match.rule;
    if (named.length) {
      return refusal(
        `sending application '${who.application}' (MSH-3) is listed in hl7.senders, but not from address ${who.address} with facility '${who.facility}' (MSH-4)`,
        MSH3,
      );
    }
    if (this.#openToUnknown) return { open: true, label: 'unlisted' };
    return refusal(
      `sending application '${who.application}' (MSH-3) from address ${who.address} is not listed in hl7.senders`,
      MSH3,
    );
  }

  /** Why this sender may not report this device, or undefined when it may. */
  device(rule: SenderRule, deviceId: string): string | undefined {
    const other = this.#otherSource.get(deviceId);
    if (other !== undefined) return `device '${deviceId}' is declared for ${other}; it is never accepted over HL7`;
    if (rule.devices)
      return rule.devices.has(deviceId)
        ? undefined
        : `device '${deviceId}' is not one of this sender's devices in hl7.senders`;
    return this.#owned.has(deviceId) ? `device '${deviceId}' belongs to another sender in hl7.senders` : undefined;
  }

  /** Why this sender may not name this PV1-3 bed, or undefined when it may. '' (no bed) always may. */
  bed(rule: SenderRule, bed: string): Pick<AckError, 'code' | 'message'> | undefined {
    if (bed === '') return undefined;
    // A bed id becomes a retained MQTT topic level: `/`, `+` and `#` there would reach other topics.
    if (!HL7_BED_ID.test(bed))
      return {
        code: 'WG_ERR_HL7_FORMAT',
        message: `PV1-3 bed '${printable(bed)}' is not a bed id (1-32 letters, digits, dot, dash or underscore)`,
      };
    if (rule.beds)
      return rule.beds.has(bed)
        ? undefined
        : { code: 'WG_ERR_HL7_SENDER', message: `bed '${bed}' is not one of this sender's beds in hl7.senders` };
    if (rule.open || this.#declaredBeds.has(bed)) return undefined;
    return {
      code: 'WG_ERR_HL7_SENDER',
      message: `bed '${bed}' is not declared in the configuration (devices, serial or hl7.senders beds)`,
    };
  }
}

function refusal(message: string, where: AckError['where']): AckError {
  return { code: 'WG_ERR_HL7_SENDER', message, hl7Code: 207, ...(where && { where }) };
}

/** A refused value, shortened and without control characters, for the ACK text. */
function printable(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 40 ? `${clean.slice(0, 40)}...` : clean;
}
