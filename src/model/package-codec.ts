/** Files of a loaded package, and its TextCodec: its tokenizer and tokenizer config, as the manifest names them. */
import type { Manifest } from './manifest.ts';
import { TextCodec } from './text-codec.ts';

export class PackageFilesError extends Error {
  override name = 'PackageFilesError';
}

/** One file of a loaded package, or a PackageFilesError naming it. */
export function packageFile(
  manifest: Manifest,
  files: ReadonlyMap<string, Uint8Array>,
  path: string,
): Uint8Array {
  const bytes = files.get(path);
  if (!bytes) throw new PackageFilesError(`package ${manifest.name}: ${path} was not loaded`);
  return bytes;
}

export function packageCodec(
  manifest: Manifest,
  files: ReadonlyMap<string, Uint8Array>,
): TextCodec {
  const json = (path: string) =>
    JSON.parse(new TextDecoder().decode(packageFile(manifest, files, path))) as Record<
      string,
      unknown
    >;
  return new TextCodec(json(manifest.tokenizer.file), json(manifest.tokenizer.config_file));
}
