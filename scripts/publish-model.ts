/**
 * CLI: npm run publish-model -- <package-dir> s3://bucket/prefix [--endpoint URL] [--region R] [--concurrency N]
 *   [--part-size 8MiB] [--retries N]
 * Uploads a model package to AWS S3, R2 (region auto) or any S3-compatible endpoint; re-running skips files
 * that already match and uploads manifest.json last. Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
 * (+ AWS_SESSION_TOKEN) or an AWS profile; endpoint and region also from S3_ENDPOINT / AWS_REGION.
 */
import { intFlag, parseFlags, progress, runMain, UsageError } from '../backends/node/cli.ts';
import { createS3Client } from '../backends/node/stores/s3-client.ts';
import { mergeS3Config, s3ConfigFromEnv } from '../backends/node/stores/open-store.ts';
import { isS3Location, parseS3Location } from '../src/model/stores/parse-location.ts';
import { parseByteSize } from '../backends/node/publish/byte-size.ts';
import { DEFAULT_PART_SIZE, publishPackage } from '../backends/node/publish/publish-package.ts';

const USAGE =
  'usage: publish-model <package-dir> s3://bucket/prefix [--endpoint URL] [--region R] [--concurrency N] [--part-size 8MiB] [--retries N]';

runMain('publish-model', async () => {
  const { values: v, positionals } = parseFlags(process.argv.slice(2), {
    endpoint: { type: 'string' },
    region: { type: 'string' },
    concurrency: { type: 'string' },
    'part-size': { type: 'string' },
    retries: { type: 'string' },
    help: { type: 'boolean' },
  });
  if (v.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length !== 2) throw new UsageError(USAGE);
  const [dir, location] = positionals;
  if (!isS3Location(location))
    throw new UsageError(`the target must be s3://bucket/prefix, got ${JSON.stringify(location)}`);
  const { bucket, prefix } = parseS3Location(location);
  const client = createS3Client(
    mergeS3Config(s3ConfigFromEnv(), { endpoint: v.endpoint, region: v.region }),
  );
  const started = performance.now();
  const result = await publishPackage({
    dir,
    client,
    bucket,
    prefix,
    partSize:
      v['part-size'] === undefined ? DEFAULT_PART_SIZE : parseByteSize(v['part-size'], 'part-size'),
    concurrency: intFlag(v.concurrency, 'concurrency', 1),
    retries: intFlag(v.retries, 'retries', 0),
    onProgress: progress('publish-model'),
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `published ${result.location}: uploaded ${result.uploaded.length} files (${result.uploadedBytes} bytes), skipped ${result.skipped.length} unchanged, in ${seconds} s\n`,
  );
});
