/** The Worker's wiring: the env → model source mapping, settings, and the internal generate route. */
export { ModelSourceError, storeFromEnv, type WorkerEnv } from './model-source.ts';
export { documentGenerateRoute, generateHandler } from './generate.ts';
export { packageSourceFromEnv } from './package-source.ts';
