/** The Worker app factory, its engine contract and the env → model source mapping. */
export { createWorkerApp, type WorkerAppOptions } from './app.ts';
export type { EdgeModel, EngineState, EngineStatus, ModelEngine } from './engine.ts';
export { ModelSourceError, storeFromEnv, type WorkerEnv } from './model-source.ts';
