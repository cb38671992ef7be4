// Reading flags by name, for people (the check command, logs).
import { ReadingFlag } from '../../shared/reading.js';

const NAMES = Object.entries(ReadingFlag) as Array<[string, number]>;

export function readFlags(flags: number): string[] {
  return NAMES.filter(([, bit]) => (flags & bit) !== 0).map(([name]) => name);
}
