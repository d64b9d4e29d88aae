/** Uploads one local file to S3: a single PutObject, or a parallel multipart upload (aborted on failure). */
import { open, readFile } from 'node:fs/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { chunkRanges } from '../../../src/model/loader/fetch-file.ts';

/** S3's multipart limits (R2's are the same or looser): parts per upload, part size, object size. */
export const MAX_PARTS = 10_000;
export const MAX_PART_BYTES = 5 * 2 ** 30;
export const MAX_OBJECT_BYTES = 5 * 2 ** 40;
/** A single PutObject carries at most 5 GiB. */
export const MAX_PUT_BYTES = 5 * 2 ** 30;

/** A publishing failure of our own (not a storage error): never retried. */
export class PublishError extends Error {
  override name = 'PublishError';
}

/** Runs one request under the publisher's concurrency limit and retry policy. */
export type RequestRunner = <T>(request: () => Promise<T>) => Promise<T>;

export interface UploadFileOptions {
  client: S3Client;
  bucket: string;
  key: string;
  /** Local file path. */
  path: string;
  size: number;
  /** Files above this size go multipart, in parts of this size (raised if it would need over 10 000 parts). */
  partSize: number;
  /** Object metadata (sent as x-amz-meta-*). */
  metadata: Record<string, string>;
  contentType?: string;
  run: RequestRunner;
  onBytes?: (n: number) => void;
}

/**
 * How a file of `size` bytes is uploaded: one PutObject up to the part size (and S3's 5 GiB PUT limit), else
 * multipart in equal parts (R2 requires equal parts), raised in whole MiB when 10 000 parts would not cover
 * the file. Throws a PublishError for what S3 cannot store.
 */
export function uploadPlan(
  size: number,
  partSize: number,
): { kind: 'single' } | { kind: 'multipart'; partSize: number; parts: number } {
  if (!(Number.isSafeInteger(partSize) && partSize > 0 && partSize <= MAX_PART_BYTES))
    throw new PublishError(`part size ${partSize} is outside S3's 1 byte – 5 GiB`);
  if (size > MAX_OBJECT_BYTES)
    throw new PublishError(`${size} bytes is more than S3's 5 TiB object limit`);
  if (size <= Math.min(partSize, MAX_PUT_BYTES)) return { kind: 'single' };
  const effective =
    Math.ceil(size / partSize) <= MAX_PARTS
      ? partSize
      : Math.ceil(size / MAX_PARTS / 2 ** 20) * 2 ** 20;
  return { kind: 'multipart', partSize: effective, parts: Math.ceil(size / effective) };
}

export async function uploadFile(opts: UploadFileOptions): Promise<'single' | 'multipart'> {
  const { client, bucket, key, path, size, metadata, contentType, run, onBytes } = opts;
  const plan = uploadPlan(size, opts.partSize);
  if (plan.kind === 'single') {
    // A buffer body, never a stream: streams are sent aws-chunked (docs/storage.md §2).
    await run(async () =>
      client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: await readFile(path),
          ContentLength: size,
          Metadata: metadata,
          ContentType: contentType,
        }),
      ),
    );
    onBytes?.(size);
    return 'single';
  }
  const { partSize } = plan;
  const { UploadId } = await run(() =>
    client.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        Metadata: metadata,
        ContentType: contentType,
      }),
    ),
  );
  if (!UploadId) throw new PublishError(`${key}: CreateMultipartUpload returned no UploadId`);
  const handle = await open(path, 'r');
  let failed = false;
  try {
    const parts = await Promise.all(
      chunkRanges(size, partSize).map(async ({ offset, length }, i) => {
        try {
          const PartNumber = i + 1;
          const { ETag } = await run(async () => {
            if (failed) throw new PublishError(`${key}: upload abandoned`);
            const body = new Uint8Array(length);
            const { bytesRead } = await handle.read(body, 0, length, offset);
            if (bytesRead !== length)
              throw new PublishError(`${path} changed during the upload (short read at ${offset})`);
            return client.send(
              new UploadPartCommand({
                Bucket: bucket,
                Key: key,
                UploadId,
                PartNumber,
                Body: body,
                ContentLength: length,
              }),
            );
          });
          if (!ETag) throw new PublishError(`${key}: part ${PartNumber} returned no ETag`);
          onBytes?.(length);
          return { ETag, PartNumber };
        } catch (e: unknown) {
          failed = true;
          throw e;
        }
      }),
    );
    await run(() =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      ),
    );
    return 'multipart';
  } catch (e: unknown) {
    // Best effort: an unfinished upload's parts are billed until aborted.
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }))
      .catch(() => undefined);
    throw e;
  } finally {
    await handle.close();
  }
}
