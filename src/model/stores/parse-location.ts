/** `s3://bucket/prefix` package locations: parsing, formatting and object keys. */

export const S3_SCHEME = 's3://';

export interface S3Location {
  bucket: string;
  /** Key prefix without leading or trailing slashes ('' for the bucket root). */
  prefix: string;
}

export function isS3Location(location: string): boolean {
  return location.startsWith(S3_SCHEME);
}

/** Parses `s3://bucket[/prefix]`; throws a plain Error naming the problem (a config error). */
export function parseS3Location(location: string): S3Location {
  if (!isS3Location(location))
    throw new Error(
      `not an S3 location (expected s3://bucket/prefix): ${JSON.stringify(location)}`,
    );
  const rest = location.slice(S3_SCHEME.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/.test(bucket))
    throw new Error(`invalid bucket name ${JSON.stringify(bucket)} in ${JSON.stringify(location)}`);
  const prefix =
    slash < 0
      ? ''
      : rest
          .slice(slash + 1)
          .split('/')
          .filter((s) => s !== '')
          .join('/');
  if (prefix.split('/').some((s) => s === '.' || s === '..'))
    throw new Error(`invalid prefix in ${JSON.stringify(location)}: no "." or ".." segments`);
  return { bucket, prefix };
}

export function formatS3Location({ bucket, prefix }: S3Location): string {
  return `${S3_SCHEME}${bucket}${prefix ? `/${prefix}` : ''}`;
}

/** The object key of package path `path` under `prefix`. */
export function objectKey(prefix: string, path: string): string {
  return prefix ? `${prefix}/${path}` : path;
}
