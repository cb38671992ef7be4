// Entry point of the deployed functions (package "main" in the deploy bundle):
// each Cloud Functions instance builds its context from the environment once.
import { contextFromEnv } from './context.js';
import { registerFunctions } from './functions.js';

registerFunctions(contextFromEnv);
