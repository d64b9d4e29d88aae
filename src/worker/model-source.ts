/**
 * The Worker's bindings and the model source they name: an R2 bucket binding (MODELS + MODEL_PREFIX) or an
 * S3-compatible endpoint (S3_* vars, keys as secrets). A missing or half-set source is a config error.
 */
import type { R2Bucket } from '@cloudflare/workers-types';
import type { BlobStore } from '../model/store.ts';
import { R2Store, type R2BucketLike } from '../model/stores/r2-store.ts';
import { S3FetchStore } from '../model/stores/s3-fetch-store.ts';

export interface WorkerEnv {
  /** The model name the edge serves. */
  EDGE_MODEL?: string;
  /** 'r2' or 's3'; unset: R2 when MODELS is bound, else S3 when S3_BUCKET is set. */
  MODEL_SOURCE?: string;
  /** Key prefix of the package in the bucket (R2 or S3), e.g. "tiny-random". */
  MODEL_PREFIX?: string;
  MODELS?: R2Bucket;
  S3_ENDPOINT?: string;
  S3_BUCKET?: string;
  S3_REGION?: string;
  /** Secrets (`wrangler secret put`, or .dev.vars locally). Omit both for a public bucket. */
  S3_ACCESS_KEY_ID?: string;
  S3_SECRET_ACCESS_KEY?: string;
}

/** The bindings do not name a usable model source. */
export class ModelSourceError extends Error {
  override name = 'ModelSourceError';
}

const R2_BUCKET_LABEL = 'MODELS';

/**
 * The BlobStore the env points at.
 * @example const store = storeFromEnv(env); // r2://MODELS/tiny-random
 */
export function storeFromEnv(env: WorkerEnv): BlobStore {
  const source = env.MODEL_SOURCE || (env.MODELS ? 'r2' : env.S3_BUCKET ? 's3' : '');
  const prefix = env.MODEL_PREFIX ?? '';
  if (source === 'r2') {
    if (!env.MODELS)
      throw new ModelSourceError('MODEL_SOURCE is r2 but no R2 bucket is bound as MODELS');
    return new R2Store(env.MODELS as unknown as R2BucketLike, {
      prefix,
      bucketName: R2_BUCKET_LABEL,
    });
  }
  if (source === 's3') {
    if (!env.S3_BUCKET) throw new ModelSourceError('MODEL_SOURCE is s3 but S3_BUCKET is not set');
    const id = env.S3_ACCESS_KEY_ID;
    const secret = env.S3_SECRET_ACCESS_KEY;
    if (Boolean(id) !== Boolean(secret))
      throw new ModelSourceError(
        'set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither (public bucket)',
      );
    return new S3FetchStore({
      bucket: env.S3_BUCKET,
      prefix,
      endpoint: env.S3_ENDPOINT || undefined,
      region: env.S3_REGION || undefined,
      credentials: id && secret ? { accessKeyId: id, secretAccessKey: secret } : undefined,
    });
  }
  if (source)
    throw new ModelSourceError(`MODEL_SOURCE must be r2 or s3, got ${JSON.stringify(source)}`);
  throw new ModelSourceError(
    'no model source: bind an R2 bucket as MODELS, or set S3_BUCKET (and S3_ENDPOINT, S3_REGION)',
  );
}
