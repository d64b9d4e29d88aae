/**
 * Uploads a local model package to S3/R2: files that already match (size + x-amz-meta-sha256) are skipped,
 * large files go multipart, and manifest.json goes last, so readers never see a partial package.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { MANIFEST_FILE, type PackageFile } from '../../../src/model/manifest.ts';
import { createConcurrencyLimit } from '../../../src/model/loader/concurrency.ts';
import { withRetry, type StorageRetryOptions } from '../../../src/model/loader/retry.ts';
import { sha256Hex } from '../../../src/model/loader/sha256.ts';
import { formatS3Location, objectKey } from '../../../src/model/stores/parse-location.ts';
import { isRetryableSdkError, sdkCode, sdkStatus } from '../stores/s3-client.ts';
import { readLocalManifest } from '../stores/disk-package.ts';
import { sha256File } from '../sha256-file.ts';
import { PublishError, uploadFile, uploadPlan, type RequestRunner } from './upload-file.ts';

export const DEFAULT_PART_SIZE = 8 * 2 ** 20;
export const DEFAULT_PUBLISH_CONCURRENCY = 4;
/** Object metadata key holding the file's sha256 (x-amz-meta-sha256 on the wire). */
export const SHA256_METADATA = 'sha256';

export interface PublishOptions {
  /** Local package directory (with manifest.json). */
  dir: string;
  client: S3Client;
  bucket: string;
  /** Key prefix ('' = bucket root). */
  prefix: string;
  /** Multipart threshold and part size (default 8 MiB; S3 and R2 need ≥ 5 MiB for all parts but the last). */
  partSize?: number;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Extra attempts per request for network errors, throttling and 5xx (default 4). */
  retries?: number;
  retry?: Omit<StorageRetryOptions, 'retries' | 'isRetryable'>;
  onProgress?: (doneBytes: number, totalBytes: number, file: string) => void;
}

export interface PublishResult {
  location: string;
  uploaded: string[];
  skipped: string[];
  uploadedBytes: number;
  totalBytes: number;
}

/**
 * @example await publishPackage({ dir: 'models/tiny-random', client: createS3Client(), bucket: 'models', prefix: 'tiny' })
 */
export async function publishPackage(opts: PublishOptions): Promise<PublishResult> {
  const {
    dir,
    client,
    bucket,
    prefix,
    partSize = DEFAULT_PART_SIZE,
    concurrency = DEFAULT_PUBLISH_CONCURRENCY,
    retries,
    retry,
    onProgress,
  } = opts;
  const manifest = await readLocalManifest(dir);
  const manifestBytes = new Uint8Array(await readFile(join(dir, MANIFEST_FILE)));
  const manifestFile: PackageFile = {
    path: MANIFEST_FILE,
    bytes: manifestBytes.length,
    sha256: await sha256Hex(manifestBytes),
    role: 'other',
  };
  for (const file of manifest.files) {
    const local = await stat(join(dir, file.path)).catch(() => null);
    if (!local)
      throw new PublishError(`${file.path} is listed in ${MANIFEST_FILE} but missing from ${dir}`);
    if (local.size !== file.bytes)
      throw new PublishError(
        `${join(dir, file.path)} has ${local.size} bytes but ${MANIFEST_FILE} says ${file.bytes}`,
      );
  }
  // What S3 cannot take (a part over 5 GiB, an object over 5 TiB) fails here, before any upload.
  for (const file of manifest.files) uploadPlan(file.bytes, partSize);
  const limit = createConcurrencyLimit(concurrency);
  const run: RequestRunner = (request) =>
    withRetry(() => limit(request), {
      ...retry,
      retries,
      isRetryable: (e) => !(e instanceof PublishError) && isRetryableSdkError(e),
    });
  const remoteMatches = async (file: PackageFile): Promise<boolean> => {
    try {
      const head = await run(() =>
        client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(prefix, file.path) })),
      );
      return head.ContentLength === file.bytes && head.Metadata?.[SHA256_METADATA] === file.sha256;
    } catch (e: unknown) {
      if (sdkStatus(e) === 404 || sdkCode(e) === 'NotFound') return false;
      throw e;
    }
  };

  const totalBytes = manifestFile.bytes + manifest.files.reduce((sum, f) => sum + f.bytes, 0);
  const result: PublishResult = {
    location: formatS3Location({ bucket, prefix }),
    uploaded: [],
    skipped: [],
    uploadedBytes: 0,
    totalBytes,
  };
  let done = 0;
  const advance = (n: number, file: string) => {
    done += n;
    onProgress?.(done, totalBytes, file);
  };
  const matches = await Promise.all(manifest.files.map(remoteMatches));
  const stale = manifest.files.filter((_, i) => !matches[i]);
  if (stale.length > 0 && !(await remoteMatches(manifestFile))) {
    // Files are about to change under an older manifest: withdraw it, so readers see "missing", not checksum errors.
    await run(() =>
      client.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(prefix, MANIFEST_FILE) }),
      ),
    );
  }
  for (const [i, file] of manifest.files.entries())
    if (matches[i]) {
      result.skipped.push(file.path);
      advance(file.bytes, file.path);
    }

  await Promise.all(
    stale.map(async (file) => {
      const path = join(dir, file.path);
      const actual = await sha256File(path);
      if (actual !== file.sha256)
        throw new PublishError(
          `${path} does not match its sha256 in ${MANIFEST_FILE} (${actual}); re-export the package`,
        );
      await uploadFile({
        client,
        bucket,
        key: objectKey(prefix, file.path),
        path,
        size: file.bytes,
        partSize,
        run,
        metadata: { [SHA256_METADATA]: file.sha256 },
        contentType: contentTypeOf(file.path),
        onBytes: (n) => advance(n, file.path),
      });
      result.uploaded.push(file.path);
      result.uploadedBytes += file.bytes;
    }),
  );

  // Last: the manifest makes the package visible.
  if (stale.length === 0 && (await remoteMatches(manifestFile))) {
    result.skipped.push(MANIFEST_FILE);
    advance(manifestFile.bytes, MANIFEST_FILE);
  } else {
    await uploadFile({
      client,
      bucket,
      key: objectKey(prefix, MANIFEST_FILE),
      path: join(dir, MANIFEST_FILE),
      size: manifestFile.bytes,
      partSize: Math.max(partSize, manifestFile.bytes),
      run,
      metadata: { [SHA256_METADATA]: manifestFile.sha256 },
      contentType: 'application/json',
      onBytes: (n) => advance(n, MANIFEST_FILE),
    });
    result.uploaded.push(MANIFEST_FILE);
    result.uploadedBytes += manifestFile.bytes;
  }
  return result;
}

function contentTypeOf(path: string): string {
  return path.endsWith('.json') ? 'application/json' : 'application/octet-stream';
}
