// Compiled with the tests (tsc -p tsconfig.test.json), never run: each line
// under a @ts-expect-error must fail to compile, or the compile fails. An
// error can only carry a code registered in shared/errors.ts, and an HTTP
// answer only a code the registry gives a status. errors.test.ts compiles this
// file again without the directives and counts the errors.
import type { ServerResponse } from 'node:http';
import type { Response } from '@google-cloud/functions-framework';
import { sendError } from '../../cloud/http.js';
import { writeError } from '../../cloud/requestGuard.js';
import { sendJsonError } from '../../edge/http/server.js';
import { httpStatusOf, reject, WardgateError } from '../../shared/errors.js';

export function registeredCodesOnly(edge: ServerResponse, cloud: Response): unknown[] {
  sendJsonError(edge, 'WG_ERR_THROTTLED', 'a registered HTTP code');
  sendError(cloud, 'WG_ERR_STALE', 'a registered HTTP code');
  return [
    // @ts-expect-error: misspelt, the registry has WG_ERR_THROTTLED
    sendJsonError(edge, 'WG_ERR_THROTTLE', 'an unregistered code'),
    // @ts-expect-error: not registered
    sendError(cloud, 'WG_ERR_RATE_LIMITED', 'an unregistered code'),
    // @ts-expect-error: not registered
    writeError(edge, 'WG_ERR_RATE_LIMITED', 'an unregistered code'),
    // @ts-expect-error: registered, but an HL7 code has no HTTP status
    sendJsonError(edge, 'WG_ERR_HL7_FORMAT', 'a code that never travels over HTTP'),
    // @ts-expect-error: the status comes from the code; a call site cannot choose one
    sendJsonError(edge, 429, 'WG_ERR_THROTTLED', 'the status given by hand'),
    // @ts-expect-error: not registered
    httpStatusOf('WG_ERR_RATE_LIMITED'),
    // @ts-expect-error: not registered
    new WardgateError('WG_ERR_RATE_LIMITED', 'an unregistered code'),
    // @ts-expect-error: not registered
    reject('WG_ERR_RATE_LIMITED', 'an unregistered code'),
  ];
}
