// What the alarm engine has already evaluated of each device, so that a
// reading presented again is not evaluated again. Readings are evaluated when
// accepted, before their commit (engine.ts onAccepted); a commit that fails (a
// full disk) is never acknowledged, and the device sends the same messages
// again, oldest first, until one is stored. Taken as new, each resent normal
// value would become the bed's latest, clear the condition's delay and
// release a non-latching alarm: a real desaturation would never be raised.
// The same goes for a duplicate after a lost PUBACK, or an HL7 message resent
// because its ACK was lost.
//
// Memory is bounded by the number of devices: per device, one seq, a few
// recent digests and one time per reading code.
import type { ObservationItem } from '../ingest/types.js';

/** Content-derived seqs (HL7, serial) remembered per device: a resend comes back within seconds to minutes. */
const RECENT_DIGESTS = 64;

/**
 * How long a reading time counts against older ones without a newer one
 * arriving. A device whose clock stepped back sends only "older" readings: once
 * this passes, they are taken as current again, so such a device is not
 * evaluated for at most this long. A device resending its backlog keeps sending
 * live readings too, which keep the time in force.
 */
export const READING_TIME_TRUST_MS = 60_000;

interface DeviceMemory {
  /** The highest device-given seq evaluated. */
  maxSeq: number;
  /** `${seq}:${digest}` of recent items whose seq the gateway derived from the content. */
  readonly digests: Set<string>;
  /** Per reading code: the newest reading time evaluated (never later than its arrival), and when that was set. */
  readonly times: Map<string, { ts: number; setAt: number }>;
}

export class EvaluatedReadings {
  readonly #devices = new Map<string, DeviceMemory>();

  /**
   * True the first time an observation is presented (and remembers it), false
   * for one already evaluated. A device-given seq increases (the MQTT contract,
   * kept across reboots: docs/ERRORS.md WG_ERR_SEQ_CONFLICT), so a seq no
   * higher than the highest evaluated is a resend or a duplicate. A seq
   * derived from the content is not in order across senders' resends: the
   * recent ones are remembered with their digest.
   */
  firstTime(item: ObservationItem): boolean {
    const memory = this.#memory(item.deviceId);
    if (item.probeSeq) {
      const id = `${item.seq}:${item.digest.toString('hex')}`;
      if (memory.digests.has(id)) return false;
      memory.digests.add(id);
      if (memory.digests.size > RECENT_DIGESTS) memory.digests.delete(memory.digests.values().next().value!);
      return true;
    }
    if (item.seq <= memory.maxSeq) return false;
    memory.maxSeq = item.seq;
    return true;
  }

  /**
   * Whether a reading is at least as new as the newest of its code evaluated
   * for the device (and remembers it if so): an older one (a backlog, a
   * resend not caught by its seq) must not become the latest value.
   * `now`: the gateway's time; a reading time is counted no later than its
   * arrival, so that a device clock running ahead holds nothing back.
   */
  current(deviceId: string, code: string, ts: number, receivedTs: number, now: number): boolean {
    const times = this.#memory(deviceId).times;
    const newest = times.get(code);
    if (newest && ts < newest.ts && now - newest.setAt < READING_TIME_TRUST_MS) return false;
    if (newest) {
      newest.ts = Math.min(ts, receivedTs);
      newest.setAt = now;
    } else times.set(code, { ts: Math.min(ts, receivedTs), setAt: now });
    return true;
  }

  /** The device last looked up: an observation asks for it once, then once per reading. */
  #lastId: string | undefined;
  #lastMemory: DeviceMemory | undefined;

  #memory(deviceId: string): DeviceMemory {
    if (deviceId === this.#lastId) return this.#lastMemory!;
    let memory = this.#devices.get(deviceId);
    if (!memory) {
      memory = { maxSeq: -Infinity, digests: new Set(), times: new Map() };
      this.#devices.set(deviceId, memory);
    }
    this.#lastId = deviceId;
    this.#lastMemory = memory;
    return memory;
  }
}
