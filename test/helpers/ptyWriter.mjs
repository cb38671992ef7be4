// A device on the far end of a serial cable: writes base64 chunks read from
// stdin (a JSON array) to a tty path, `burst` chunks at a time, pausing
// `intervalMs` between writes. Prints {"written": n} at the end, or with the
// error when the tty vanishes under it (the cable was unplugged).
import { openSync, writeSync, closeSync } from 'node:fs';

const [path, intervalMs, burst] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', async () => {
  const chunks = JSON.parse(input).map((c) => Buffer.from(c, 'base64'));
  let written = 0;
  let error;
  try {
    const fd = openSync(path, 'w');
    try {
      for (let i = 0; i < chunks.length; i += burst) {
        if (i > 0 && intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
        const group = chunks.slice(i, i + burst);
        writeSync(fd, Buffer.concat(group));
        written += group.length;
      }
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    error = err.code ?? err.message;
  }
  process.stdout.write(`${JSON.stringify({ written, ...(error && { error }) })}\n`);
});
