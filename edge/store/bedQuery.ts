// Which beds the database knows of, beyond those the config binds a device to.
import type { Db } from './database.js';

/** A bed a device row names (HL7 equipment takes the bed its messages give) or readings were filed under. */
export function bedSeen(db: Db, bed: string): boolean {
  return (
    db
      .prepare('SELECT 1 FROM devices WHERE bed = ? UNION ALL SELECT 1 FROM observations WHERE bed = ? LIMIT 1')
      .pluck()
      .get(bed, bed) !== undefined
  );
}
