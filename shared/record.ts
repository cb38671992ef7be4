// Plain objects keyed by strings from outside (a subject, a code, a header):
// `record[key]` answers Object.prototype's own members for `constructor`,
// `toString` or `__proto__`, and `record[key] = v` with `__proto__` replaces
// the prototype. These read and write own properties only. Where the object
// is ours alone, a Map is better; these are for objects that are stored as
// they are (Firestore documents) or handed in (an environment).

/** The record's own value for `key`, never one inherited. */
export function ownValue<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record === undefined ? undefined : (Object.getOwnPropertyDescriptor(record, key)?.value as T | undefined);
}

/** Sets the record's own property `key` (even `__proto__`) and returns the value. */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): T {
  Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
  return value;
}
