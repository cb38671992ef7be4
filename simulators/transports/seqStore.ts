// A device's sequence numbers survive a restart: the gateway stores a repeated
// (device, seq) once, so a simulator that restarted at 1 would have its new
// readings taken for retransmissions. Numbers are reserved in blocks written
// to disk before use, so even a crash skips ahead rather than reusing one.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const BLOCK = 1000;

export class SeqStore {
  readonly #file: string;
  #next = 0;
  #reservedUntil = 0;

  constructor(dir: string, deviceId: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.#file = join(dir, `${deviceId}.seq`);
    let saved = 1;
    try {
      saved = Number.parseInt(readFileSync(this.#file, 'utf8'), 10) || 1;
    } catch {
      // first run for this device
    }
    this.#next = saved;
    this.#reservedUntil = saved;
  }

  next(): number {
    if (this.#next >= this.#reservedUntil) {
      this.#reservedUntil = this.#next + BLOCK;
      // Write-then-rename: a crash leaves the old or the new reservation, never a torn file.
      const tmp = `${this.#file}.tmp`;
      writeFileSync(tmp, String(this.#reservedUntil), { mode: 0o600 });
      renameSync(tmp, this.#file);
    }
    return this.#next++;
  }
}
