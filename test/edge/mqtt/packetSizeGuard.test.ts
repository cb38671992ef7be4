import t from 'tap';
import { decodeFixedHeader, PacketSizeMeter } from '../../../edge/mqtt/packetSizeGuard.js';

/** A PUBLISH-like packet: fixed header with the Remaining Length encoding of [MQTT-2.2.3], then a body. */
function packet(type: number, bodyLength: number): Buffer {
  const length: number[] = [];
  let n = bodyLength;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    length.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from([type << 4, ...length]), Buffer.alloc(bodyLength, 0x61)]);
}

t.test('decodes Remaining Length of 1 to 4 bytes', async (t) => {
  t.same(decodeFixedHeader([0x30, 0x00]), { type: 3, remainingLength: 0 });
  t.same(decodeFixedHeader([0x30, 0x7f]), { type: 3, remainingLength: 127 });
  t.same(decodeFixedHeader([0x30, 0x80, 0x01]), { type: 3, remainingLength: 128 });
  t.same(decodeFixedHeader([0x30, 0xff, 0xff, 0xff, 0x7f]), { type: 3, remainingLength: 268_435_455 });
  t.equal(decodeFixedHeader([0x30]), 'incomplete');
  t.equal(decodeFixedHeader([0x30, 0x80]), 'incomplete');
  t.equal(decodeFixedHeader([0x30, 0x80, 0x80, 0x80, 0x80]), 'malformed');
});

t.test('packets under the limit pass in any chunking; the first one over it is reported', async (t) => {
  const stream = Buffer.concat([
    packet(1, 20),
    packet(3, 1000),
    packet(3, 16_383),
    packet(12, 0),
    packet(3, 16_385),
    packet(3, 10),
  ]);
  for (const chunkSize of [1, 2, 3, 7, 100, 4096, stream.length]) {
    const meter = new PacketSizeMeter(16_384);
    let found;
    for (let at = 0; at < stream.length && !found; at += chunkSize)
      found = meter.inspect(stream.subarray(at, at + chunkSize));
    t.equal(found?.remainingLength, 16_385, `chunks of ${chunkSize}: the oversized packet is found`);
    t.equal(found?.packetType, 3);
  }
});

t.test('a stream of small packets is never reported', async (t) => {
  const meter = new PacketSizeMeter(256);
  let reported = 0;
  for (let i = 0; i < 1000; i++) if (meter.inspect(packet(3, i % 257))) reported++;
  t.equal(reported, 0, 'packets up to and at the limit pass');
});
