// `jsonl`: one observation message per line, the same JSON as on MQTT
// (`{"seq": 1, "ts": ..., "obs": [...]}`). Validation is the shared JSON
// validator's job; this driver only tells JSON from noise cheaply.
import type { SerialDriver } from '../driver.js';

export const jsonlDriver: SerialDriver = {
  name: 'jsonl',
  asciiOnly: false,
  decode(line) {
    const text = line.trim();
    if (!text.startsWith('{')) return { kind: 'garbage', reason: 'expected a JSON object on each line' };
    return { kind: 'message', payload: Buffer.from(text, 'utf8') };
  },
};
