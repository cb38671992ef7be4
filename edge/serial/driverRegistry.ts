// Every serial driver by the name a port's config gives. Apart from the
// contract (driver.ts), which the drivers themselves import: a registry there
// would make each driver import the module that imports it.
import type { SerialDriverName } from '../config/schema.js';
import type { SerialDriver } from './driver.js';
import { jsonlDriver } from './drivers/jsonl.js';
import { masimoAsciiDriver } from './drivers/masimoAscii.js';
import { noninAsciiDriver } from './drivers/noninAscii.js';
import {
  noninBinary1Driver,
  noninBinary2Driver,
  noninBinary7Driver,
  noninBinary8Driver,
} from './drivers/noninBinary.js';

export const serialDrivers: Readonly<Record<SerialDriverName, SerialDriver>> = {
  'masimo-ascii': masimoAsciiDriver,
  'nonin-ascii': noninAsciiDriver,
  'nonin-binary-1': noninBinary1Driver,
  'nonin-binary-2': noninBinary2Driver,
  'nonin-binary-7': noninBinary7Driver,
  'nonin-binary-8': noninBinary8Driver,
  jsonl: jsonlDriver,
};
