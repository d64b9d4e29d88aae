/**
 * Where the API reads the files of a model package it serves for download (GET /v1/models/{id}/package/…): the
 * Worker streams them from R2 (or reads them through its S3 store), the Node server from the verified package on
 * disk. The route serves only manifest.json and the files the manifest lists.
 */
import type { BlobStore } from '../model/store.ts';

/** One stored object: a stream (or bytes) and its size. */
export interface PackageObject {
  body: ReadableStream<Uint8Array> | Uint8Array;
  size: number;
}

export interface PackageFileSource {
  /** The object at a package path ("manifest.json", "model.onnx"), or null when it does not exist. */
  open(path: string): Promise<PackageObject | null>;
}

/** Package sources by model id; models without one (GPU pools, remote servers) cannot be downloaded. */
export type PackageSources = (modelId: string) => PackageFileSource | undefined;

/** A source over any BlobStore (whole-object reads: fine for edge-sized packages). */
export function blobStoreSource(store: BlobStore): PackageFileSource {
  return {
    async open(path) {
      const bytes = await store.get(path);
      return bytes ? { body: bytes, size: bytes.length } : null;
    },
  };
}
