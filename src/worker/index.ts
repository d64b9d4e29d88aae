/** The Worker's wiring: the env → model source mapping, settings, and the internal generate route. */
export { ModelSourceError, storeFromEnv, type WorkerEnv } from './model-source.ts';
export { generateHandler } from './generate.ts';
