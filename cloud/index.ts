// Entry point of the deployed functions (package "main" in the deploy bundle):
// each Cloud Functions instance builds its context from the environment once.
import { contextFromEnv } from './context.js';
import { registerFunctions } from './functions.js';
import { functionTarget, guardNextServers } from './requestGuard.js';

// Before the framework creates its server: nothing it would parse is read unchecked.
guardNextServers(functionTarget(process.argv, process.env), (err) =>
  contextFromEnv().log.error({ err: err.message }, 'request failed in the framework'),
);
registerFunctions(contextFromEnv);
