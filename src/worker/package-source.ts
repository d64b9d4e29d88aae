/**
 * The edge model's package files for GET /v1/models/{id}/package/…: streamed from the R2 binding (never held
 * whole in the isolate's 128 MB), or read through the S3 store.
 */
import type { PackageFileSource } from '../api/package-files.ts';
import { blobStoreSource } from '../api/package-files.ts';
import { objectKey } from '../model/stores/parse-location.ts';
import { storeFromEnv, type WorkerEnv } from './model-source.ts';

/** The part of the R2 binding streaming needs. */
interface R2StreamBucket {
  get(key: string): Promise<{ body: ReadableStream<Uint8Array>; size: number } | null>;
}

export function r2PackageSource(bucket: R2StreamBucket, prefix: string): PackageFileSource {
  const clean = prefix
    .split('/')
    .filter((s) => s !== '')
    .join('/');
  return {
    async open(path) {
      const object = await bucket.get(objectKey(clean, path));
      return object ? { body: object.body, size: object.size } : null;
    },
  };
}

/** The package source the env names (the same bucket or endpoint the edge model is loaded from). */
export function packageSourceFromEnv(env: WorkerEnv): PackageFileSource {
  const store = storeFromEnv(env);
  if (env.MODELS && store.location.startsWith('r2:'))
    return r2PackageSource(env.MODELS as unknown as R2StreamBucket, env.MODEL_PREFIX ?? '');
  return blobStoreSource(store);
}
