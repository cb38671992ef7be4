// The serialport binding the gateway opens ports with: the platform's own,
// except that on Linux a read that returns no bytes ends the port as lost.
//
// When a USB serial adapter is pulled, or the far end of a pseudo-terminal
// closes, the kernel hangs the tty up: from then on every read returns 0
// bytes (end of file). The port is opened non-blocking with VMIN 1, so no
// other read of a working port returns 0 (no data is EAGAIN). The stock
// binding retries a 0-byte read at once, forever: when the hang-up lands
// while no read is waiting for the port (the gateway busy with the previous
// bytes, or the wake-up racing the hang-up on a loaded machine), the port is
// never reported lost, its status stays online, it is never reopened, and the
// retry loop spins a thread-pool thread. Here the 0-byte read fails instead;
// the stream then closes the port as disconnected, as it does for any other
// read error.
//
// A port can also read 0 forever while it is not hung up: a UART on a vendor
// kernel whose every read returns 0 (serialport/bindings-cpp issue 162), or a
// port another program set to VMIN 0 and VTIME 0. Failing it is still right:
// such a port delivers nothing, and spinning on it would keep a dead device
// online; it is reopened with backoff (portReader.ts) and reported once.
//
// A pulled RS-232 cable does not hang the tty up (the port runs with CLOCAL
// set, so losing the carrier is not a hang-up): the port stays open and
// reads nothing, and the device is caught by its silence (silentAfterMs).
import { read } from 'node:fs';
import { promisify } from 'node:util';
import {
  autoDetect,
  LinuxBinding,
  type BindingInterface,
  type LinuxOpenOptions,
  type LinuxPortBinding,
} from '@serialport/bindings-cpp';
import { unixRead } from '@serialport/bindings-cpp/dist/unix-read.js';

const readAsync = promisify(read);

/** The error a hung-up port's read ends with; the port's loss is reported with its message. */
export class HangupError extends Error {
  readonly code = 'EHANGUP';
  constructor() {
    super('port hung up (end of file)');
  }
}

/** `fs.read` for a tty opened with VMIN >= 1: a 0-byte read is the hang-up, not "try again". */
const readOrHangup = (async (fd: number, buffer: Buffer, offset: number, length: number, position: null) => {
  const result = await readAsync(fd, buffer, offset, length, position);
  if (result.bytesRead === 0) throw new HangupError();
  return result;
}) as typeof readAsync;

/** Makes an open port's reads end with a HangupError at end of file. */
export function failReadsAtHangup(port: LinuxPortBinding): LinuxPortBinding {
  port.read = async (buffer, offset, length) => {
    if (!port.isOpen) throw new Error('Port is not open');
    return unixRead({ binding: port, buffer, offset, length, fsReadAsync: readOrHangup });
  };
  return port;
}

const linux: BindingInterface = {
  list: () => LinuxBinding.list(),
  // Mark and space parity are refused by the Linux binding itself, as before.
  open: async (options) => failReadsAtHangup(await LinuxBinding.open(options as LinuxOpenOptions)),
};

/** The binding for this platform (other platforms keep their own). */
export const serialBinding: BindingInterface = process.platform === 'linux' ? linux : autoDetect();
