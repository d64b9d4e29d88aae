/**
 * A local S3-compatible server (s3rver: objects are plain files under <dir>/<bucket>/), for the rehearsal and
 * the S3 test suites. s3rver is a development dependency: this module is for checkouts, not deployments.
 */
import { createRequire } from 'node:module';

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

/** s3rver's built-in account: it checks SigV4 signatures against these. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface LocalS3Server {
  endpoint: string;
  bucket: string;
  /** Environment for openStore / publish-model against this server. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Starts s3rver on 127.0.0.1 (port 0: an ephemeral one) with `bucket` created, storing objects in `dir`. */
export async function startS3rver({
  dir,
  bucket = 'models',
  port = 0,
}: {
  dir: string;
  bucket?: string;
  port?: number;
}): Promise<LocalS3Server> {
  // s3rver 3.7.1 ships CommonJS without types.
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    directory: dir,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  const { port: bound } = await server.run();
  const endpoint = `http://127.0.0.1:${bound}`;
  return {
    endpoint,
    bucket,
    env: {
      S3_ENDPOINT: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    },
    close: () => server.close(),
  };
}
