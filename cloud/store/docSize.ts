// Firestore's storage size of a document, by its published rules
// (cloud.google.com/firestore/docs/storage-size): string = UTF-8 bytes + 1,
// number/boolean/null = 8/1/1, timestamp 8, array = sum of elements, map = sum
// of (key size + value size), document = name size + fields + 32. Used to keep
// every document we write well below the 1 MiB (1,048,576 bytes) limit.

export const MAX_DOCUMENT_BYTES = 1_048_576;

export function valueBytes(value: unknown): number {
  if (value === null || value === undefined) return 1;
  if (typeof value === 'boolean') return 1;
  if (typeof value === 'number') return 8;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8') + 1;
  if (value instanceof Date) return 8;
  if (Array.isArray(value)) return value.reduce((sum: number, v) => sum + valueBytes(v), 0);
  if (typeof value === 'object') {
    let sum = 0;
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      sum += Buffer.byteLength(k, 'utf8') + 1 + valueBytes(v);
    return sum;
  }
  return 8;
}

/** Size of a document at `path` (e.g. `wards/3B/segments/b.._0`) with these fields. */
export function documentBytes(path: string, fields: Record<string, unknown>): number {
  const name = path.split('/').reduce((sum, part) => sum + Buffer.byteLength(part, 'utf8') + 1, 16);
  return name + valueBytes(fields) + 32;
}
