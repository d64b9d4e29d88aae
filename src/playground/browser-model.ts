/**
 * "Run in my browser": the served package downloaded once through the verified loader, an onnxruntime-web
 * session in the page (WebGPU when the browser has it, else WASM), and the same decode loop, SessionRunner and
 * frame/text conversion (runChoice) the servers run. Nothing about the prompt leaves the page.
 */
import type { InferenceSession } from 'onnxruntime-common';
import type * as OrtWebModule from 'onnxruntime-web/wasm';
import { decode } from '../decode/index.ts';
import type { OpenModel } from '../api/engine.ts';
import { runChoice, type ChoiceResult } from '../api/serving/generation.ts';
import { loadPackage, packageBytes } from '../model/loader.ts';
import type { Manifest } from '../model/manifest.ts';
import { nextTask } from '../model/next-task.ts';
import { packageCodec } from '../model/package-codec.ts';
import { createSession } from '../ort/create-session.ts';
import { SessionRunner } from '../ort/session-runner.ts';
import { browserFileCache, HttpPackageStore } from './http-store.ts';
import { decodeOptions, type ChatMessage, type Knobs } from './settings.ts';
import type { Frame } from './trace.ts';

/** Where the app serves onnxruntime-web's .wasm files (docs/playground.md). */
export const ORT_ASSETS = '/playground/ort/';

export type Backend = 'webgpu' | 'wasm';

export interface BrowserModel {
  id: string;
  manifest: Manifest;
  backend: Backend;
  /** Why WebGPU was not used, when it was asked for. */
  fallback: string | null;
  model: OpenModel;
  downloadMs: number;
  sessionMs: number;
  bytes: number;
}

export interface LoadOptions {
  modelId: string;
  key: string;
  prefer: 'auto' | Backend;
  onProgress?: (done: number, total: number) => void;
}

/** WebGPU in onnxruntime-web 1.30 runs on its JSPI build; both are needed. */
export function webgpuAvailable(): boolean {
  return (
    typeof navigator !== 'undefined' &&
    'gpu' in navigator &&
    typeof (WebAssembly as unknown as { Suspending?: unknown }).Suspending === 'function'
  );
}

type OrtWeb = typeof OrtWebModule;

/**
 * Points ORT at its .wasm on this server. Only the .wasm: the bundled builds inline their JS glue, and a prefix
 * (a string) would make ORT import a separate glue file instead.
 */
function configure(ort: OrtWeb, wasmFile: string): OrtWeb {
  ort.env.wasm.wasmPaths = { wasm: new URL(`${ORT_ASSETS}${wasmFile}`, location.href).href };
  // One thread: pages are not cross-origin isolated, and one thread is what the Worker runs (same numerics).
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  return ort;
}

export async function loadBrowserModel(o: LoadOptions): Promise<BrowserModel> {
  const t0 = performance.now();
  const store = new HttpPackageStore(location.origin, o.modelId, o.key);
  const pkg = await loadPackage(store, {
    cache: await browserFileCache(),
    // Whole files: one request each (the demo package is a few MB).
    rangeChunkBytes: 2 ** 31 - 1,
    onProgress: o.onProgress,
  });
  const t1 = performance.now();
  const codec = packageCodec(pkg.manifest, pkg.files);
  let backend: Backend = 'wasm';
  let fallback: string | null = null;
  let session: InferenceSession | null = null;
  let ort: OrtWeb | null = null;
  if (o.prefer !== 'wasm') {
    if (!webgpuAvailable()) fallback = 'this browser has no WebGPU (with JSPI)';
    else {
      try {
        ort = configure(
          (await import('onnxruntime-web/jspi')) as unknown as OrtWeb,
          'ort-wasm-simd-threaded.jspi.wasm',
        );
        session = await createSession(ort, pkg, 'webgpu');
        backend = 'webgpu';
      } catch (e: unknown) {
        fallback = `WebGPU failed: ${(e as Error).message}`;
        session = null;
      }
    }
  }
  if (!session) {
    ort = configure(await import('onnxruntime-web/wasm'), 'ort-wasm-simd-threaded.wasm');
    session = await createSession(ort, pkg, 'wasm');
  }
  const t2 = performance.now();
  const runner = new SessionRunner({ ort: ort!, session, manifest: pkg.manifest });
  return {
    id: o.modelId,
    manifest: pkg.manifest,
    backend,
    fallback,
    model: {
      codec,
      info: runner.info,
      decode: (promptIds, options) => decode(runner, promptIds, options),
    },
    downloadMs: t1 - t0,
    sessionMs: t2 - t1,
    bytes: packageBytes(pkg.manifest),
  };
}

/**
 * One chat generation in the page, exactly as the server runs it: the chat template, the decode options the API
 * would make of these knobs, runChoice's frames and text. `onFrame` may paint; the loop waits for it.
 */
export async function generateInBrowser(
  m: BrowserModel,
  knobs: Knobs,
  messages: ChatMessage[],
  handlers: {
    onFrame: (frame: Frame) => void | Promise<void>;
    onDelta: (text: string) => void;
    signal?: AbortSignal;
  },
): Promise<ChoiceResult> {
  const promptIds = m.model.codec.encode(m.model.codec.applyChatTemplate(messages));
  return runChoice({
    model: m.model,
    promptIds,
    options: { ...decodeOptions(knobs), signal: handlers.signal },
    stops: [],
    onEvent: (event) => {
      if (event.type === 'content') handlers.onDelta(event.text);
    },
    onDenoise: async (frame) => {
      await handlers.onFrame(frame);
      // Let the page paint between forwards (each forward blocks the main thread).
      await nextTask();
    },
  });
}
