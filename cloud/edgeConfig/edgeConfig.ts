// edgeConfig (HTTP GET): rule and limit overrides for one gateway's config
// pull. Authenticated like ingestBatch (the gateway's HMAC over the empty body
// and a timestamp within the window); answers 304 when the gateway already has
// the current version (If-None-Match with the ETag it was given).
import type { Firestore } from '@google-cloud/firestore';
import type { Request, Response } from '@google-cloud/functions-framework';
import { isPlainObject } from '../../shared/observation.js';
import type { EdgeConfigDocument } from '../../shared/sync/wire.js';
import type { CloudContext } from '../context.js';
import { header, sendError, sendJson, sendSignatureRefusal, verifyGatewaySignature } from '../http.js';
import { edgeConfigDoc } from '../store/paths.js';

export const etagOf = (version: number) => `"v${version}"`;

export function edgeConfig(ctx: CloudContext) {
  return async (req: Request, res: Response): Promise<void> => {
    if (req.method !== 'GET') return sendError(res, 'WG_ERR_METHOD', 'use GET');
    const check = verifyGatewaySignature(ctx, req, Buffer.isBuffer(req.rawBody) ? req.rawBody : Buffer.alloc(0));
    if (!check.ok) {
      ctx.log.warn({ gateway: check.id, reason: check.reason }, 'config pull refused: signature');
      return sendSignatureRefusal(res, check);
    }
    const { gateway, id: gatewayId } = check;
    let doc: EdgeConfigDocument;
    try {
      doc = await readEdgeConfig(ctx.db, gatewayId, gateway.ward);
    } catch (err) {
      ctx.log.error({ gateway: gatewayId, err: (err as Error).message }, 'edge config read failed');
      return sendError(res, 'WG_ERR_UNAVAILABLE', 'config read failed; retry');
    }
    res.set('ETag', etagOf(doc.version));
    if (header(req.headers['if-none-match']) === etagOf(doc.version)) {
      res.status(304).end();
      return;
    }
    sendJson(res, 200, doc);
  };
}

export async function readEdgeConfig(db: Firestore, gateway: string, ward: string): Promise<EdgeConfigDocument> {
  const data = (await edgeConfigDoc(db, gateway).get()).data();
  return {
    gateway,
    ward,
    version: (data?.version as number) ?? 0,
    updated: (data?.updated as number) ?? null,
    config: (data?.config as Record<string, unknown>) ?? {},
  };
}

/** Replaces a gateway's overrides and bumps the version (used by `wardgate cloud --edge-config` and the cloud team's tooling). */
export async function putEdgeConfig(
  db: Firestore,
  gateway: string,
  config: Record<string, unknown>,
  now: number,
): Promise<number> {
  if (!isPlainObject(config)) throw new TypeError('edge config must be a JSON object');
  const ref = edgeConfigDoc(db, gateway);
  return db.runTransaction(async (tx) => {
    const version = (((await tx.get(ref)).data()?.version as number) ?? 0) + 1;
    tx.set(ref, { version, updated: now, config });
    return version;
  });
}
