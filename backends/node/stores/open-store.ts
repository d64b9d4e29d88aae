/** Opens a package location for Node: a local directory or `s3://bucket/prefix` (config from the environment). */
import type { BlobStore } from '../../../src/model/store.ts';
import { isS3Location, parseS3Location } from '../../../src/model/stores/parse-location.ts';
import type { S3Credentials } from '../../../src/model/stores/s3-fetch-store.ts';
import { FsStore } from './fs-store.ts';
import type { S3ClientOptions } from './s3-client.ts';
import { S3SdkStore } from './s3-sdk-store.ts';

type Env = Record<string, string | undefined>;

/**
 * S3 settings from the standard variables: S3_ENDPOINT (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL),
 * AWS_REGION / AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN).
 * Without explicit keys the SDK's provider chain (profiles, instance roles) applies.
 */
export function s3ConfigFromEnv(env: Env = process.env): S3ClientOptions {
  const endpoint = env.S3_ENDPOINT || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
  const credentials: S3Credentials | undefined =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          accessKeyId: env.AWS_ACCESS_KEY_ID,
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
          ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
        }
      : undefined;
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    ...(credentials ? { credentials } : {}),
  };
}

export interface OpenStoreOptions {
  /** Default process.env. */
  env?: Env;
  /** Overrides of the environment's S3 settings (e.g. CLI flags). */
  s3?: S3ClientOptions;
}

/**
 * @example openStore('s3://models/llada2-mini') // or openStore('models/tiny-random')
 */
export function openStore(
  location: string,
  { env = process.env, s3 = {} }: OpenStoreOptions = {},
): BlobStore {
  if (!isS3Location(location)) return new FsStore(location);
  const { bucket, prefix } = parseS3Location(location);
  return new S3SdkStore({ bucket, prefix, ...mergeS3Config(s3ConfigFromEnv(env), s3) });
}

/** `base` with the defined fields of `overrides` on top (an undefined flag keeps the environment's value). */
export function mergeS3Config(base: S3ClientOptions, overrides: S3ClientOptions): S3ClientOptions {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...base, ...defined };
}

export function isRemoteLocation(location: string): boolean {
  return isS3Location(location);
}
