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

/** S3 allows at most 10 000 parts per upload. */
const MAX_PARTS = 10_000;

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

export function effectivePartSize(size: number, partSize: number): number {
  if (Math.ceil(size / partSize) <= MAX_PARTS) return partSize;
  return Math.ceil(size / MAX_PARTS / 2 ** 20) * 2 ** 20;
}

export async function uploadFile(opts: UploadFileOptions): Promise<'single' | 'multipart'> {
  const { client, bucket, key, path, size, metadata, contentType, run, onBytes } = opts;
  if (size <= opts.partSize) {
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
  const partSize = effectivePartSize(size, opts.partSize);
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
