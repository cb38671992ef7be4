// A fake serial binding for tests of what the gateway does with a port that
// opens fine and then fails: each open gets the next script (bytes to deliver,
// then the read error that ends the port, as a hung-up tty's read does).
import type { BindingInterface, BindingPortInterface, OpenOptions } from '@serialport/bindings-cpp';
import { HangupError } from '../../edge/serial/binding.js';

export interface FakeOpen {
  /** Chunks the port delivers before its reads fail. */
  readonly bytes?: readonly string[];
}

export interface FakeSerial {
  readonly binding: BindingInterface;
  /** When each open succeeded (Date.now()). */
  readonly opens: number[];
}

/** A binding whose n-th open plays `script(n)`: its bytes, then a hang-up on the next read. */
export function fakeSerial(script: (n: number) => FakeOpen = () => ({})): FakeSerial {
  const opens: number[] = [];
  const open = async (options: OpenOptions): Promise<BindingPortInterface> => {
    const pending = [...(script(opens.length).bytes ?? [])];
    opens.push(Date.now());
    const port: BindingPortInterface = {
      openOptions: options as BindingPortInterface['openOptions'],
      isOpen: true,
      close: async () => {
        port.isOpen = false;
      },
      read: async (buffer, offset) => {
        await new Promise((resolve) => setImmediate(resolve));
        const chunk = pending.shift();
        if (chunk === undefined) throw new HangupError();
        const bytesRead = buffer.write(chunk, offset);
        return { buffer, bytesRead };
      },
      write: async () => {},
      update: async () => {},
      set: async () => {},
      get: async () => ({ cts: false, dsr: false, dcd: false }),
      getBaudRate: async () => ({ baudRate: options.baudRate }),
      flush: async () => {},
      drain: async () => {},
    };
    return port;
  };
  return { binding: { list: async () => [], open }, opens };
}
