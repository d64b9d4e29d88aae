/** One place that builds @aws-sdk/client-s3 clients that work with AWS S3, R2 and S3-compatible servers. */
import { S3Client } from '@aws-sdk/client-s3';
import { isTransientStatus } from '../../../src/model/stores/http-errors.ts';
import type { S3Credentials } from '../../../src/model/stores/s3-fetch-store.ts';
import { defaultRegion } from '../../../src/model/stores/s3-fetch-store.ts';

export interface S3ClientOptions {
  /** Custom endpoint (R2, s3rver, MinIO); turns on path-style addressing. Default: AWS S3. */
  endpoint?: string;
  /** Default 'auto' for R2 endpoints, else 'us-east-1'. */
  region?: string;
  /** Default: the SDK's provider chain (env vars, profiles, instance roles). */
  credentials?: S3Credentials;
  /** SDK-level attempts per request (default 1: callers retry with their own policy). */
  maxAttempts?: number;
}

/**
 * Checksums are WHEN_REQUIRED: the SDK's default CRC32 trailers break R2 (501) and make s3rver store
 * aws-chunked framing inside objects (docs/storage.md §2).
 * @example createS3Client({ endpoint: process.env.S3_ENDPOINT })
 */
export function createS3Client({
  endpoint,
  region = defaultRegion(endpoint),
  credentials,
  maxAttempts = 1,
}: S3ClientOptions = {}): S3Client {
  return new S3Client({
    region,
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    ...(credentials ? { credentials } : {}),
    maxAttempts,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** The HTTP status of an SDK error, if the request got a response. */
export function sdkStatus(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** The S3 error code (NoSuchKey, AccessDenied, …) of an SDK error. */
export function sdkCode(e: unknown): string | undefined {
  const err = e as { Code?: string; name?: string };
  return err.Code ?? err.name;
}

/** Worth another attempt: no response at all (network), throttling or a server error. */
export function isRetryableSdkError(e: unknown): boolean {
  if (sdkCode(e) === 'CredentialsProviderError') return false;
  const status = sdkStatus(e);
  return status === undefined || isTransientStatus(status);
}
