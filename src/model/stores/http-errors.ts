/** Maps S3-style HTTP failures to ModelLoadError codes; messages name the object, never credentials. */
import { ModelLoadError } from '../store.ts';

/** Statuses worth retrying: throttling, timeouts and server errors. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * The error for a failed request on `where` (e.g. "s3://bucket/key"). `s3Code` is the `<Code>` of an S3
 * error body (AccessDenied, SlowDown); the body itself is not quoted, since signature errors echo request details.
 */
export function httpLoadError(status: number, where: string, s3Code?: string): ModelLoadError {
  const detail = `HTTP ${status}${s3Code ? ` ${s3Code}` : ''}`;
  if (isTransientStatus(status))
    return new ModelLoadError('transient', `${where}: storage unavailable (${detail})`);
  if (status === 401 || status === 403) {
    return new ModelLoadError(
      'missing',
      `${where}: access denied (${detail}); check the credentials, region and bucket permissions`,
    );
  }
  if (status === 404 && s3Code === 'NoSuchBucket')
    return new ModelLoadError('missing', `${where}: the bucket does not exist (${detail})`);
  if (status === 416)
    return new ModelLoadError(
      'truncated',
      `${where}: requested range not satisfiable (${detail}); the object is shorter than expected`,
    );
  return new ModelLoadError('missing', `${where}: request failed (${detail})`);
}

/** A request that never got a response (DNS, connection reset, timeout). */
export function networkLoadError(where: string, e: unknown): ModelLoadError {
  const reason =
    e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
  return new ModelLoadError('transient', `${where}: network error (${reason})`);
}

/** The `<Code>` element of an S3 XML error body, if any. */
export function s3ErrorCode(body: string): string | undefined {
  return /<Code>([A-Za-z0-9.]{1,64})<\/Code>/.exec(body)?.[1];
}
