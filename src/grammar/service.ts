/**
 * Structured output over xgrammar: turns a request's `response_format` into a ConstraintSource for the decode loop.
 * - One TokenizerInfo per model vocabulary (built once, ~0.5 s for LLaDA2's 157k tokens) and an LRU of compiled
 *   grammars keyed by vocabulary and canonical schema; evicted objects are disposed. xgrammar's own compiler cache is
 *   off (it has no bound).
 * - A wasm abort (xgrammar's reaction to input it rejects) does not unwind, and a few of them corrupt the instance:
 *   after one, the instance is dropped (resetXGrammar), every cached object with it, and the reason xgrammar printed
 *   becomes the 400's message. Constraints from the dropped instance fail their next call instead of touching it.
 */
import type { ConstraintSource, TokenConstraint } from '../decode/index.ts';
import { GrammarError } from './errors.ts';
import { canonicalJson, parseResponseFormat } from './response-format.ts';
import type {
  XGrammarCompiled,
  XGrammarCompiler,
  XGrammarMatcher,
  XGrammarRuntime,
  XGrammarTokenizerInfo,
} from './runtime.ts';
import { checkSchema, unitsFor } from './schema-policy.ts';
import { grammarVocabulary } from './vocabulary.ts';

export interface GrammarServiceOptions {
  /** The configured xgrammar (loaded on first use). */
  runtime: () => XGrammarRuntime | Promise<XGrammarRuntime>;
  /** Compiled grammars kept. Default 32. */
  maxCompiled?: number;
  /** Vocabularies (models) kept. Default 4. */
  maxVocabularies?: number;
}

/** What the service needs to know about a model. */
export interface GrammarModel {
  codec: { readonly tokenizerJson: object };
  info: { readonly vocabSize: number; readonly eosId: number };
}

interface Vocabulary {
  info: XGrammarTokenizerInfo;
  compiler: XGrammarCompiler;
}

function isAbort(e: unknown): boolean {
  return (
    e instanceof WebAssembly.RuntimeError || (e instanceof Error && /Aborted\(/.test(e.message))
  );
}

/** xgrammar's "[FATAL] /path/file.cc:123: reason" without the build path. */
function abortReason(lines: string[]): string {
  const fatal = lines.filter((l) => l.includes('[FATAL]')).at(-1);
  const reason = fatal?.replace(/^.*\[FATAL\]\s*\S+:\d+:\s*/, '').trim();
  return (reason || 'the grammar engine rejected it').slice(0, 300);
}

export class GrammarService {
  private readonly maxCompiled: number;
  private readonly maxVocabularies: number;
  private runtimeP: Promise<XGrammarRuntime> | undefined;
  /** Bumped by every reset: objects from an older epoch belong to a dropped instance. */
  private epoch = 0;
  private readonly vocabularies = new Map<object, Vocabulary>();
  private readonly compiled = new Map<string, XGrammarCompiled>();
  private readonly tokenizerIds = new WeakMap<object, number>();
  private nextTokenizerId = 0;
  /** Wasm aborts recovered from (for tests and metrics). */
  resets = 0;

  constructor(private readonly opts: GrammarServiceOptions) {
    this.maxCompiled = opts.maxCompiled ?? 32;
    this.maxVocabularies = opts.maxVocabularies ?? 4;
  }

  /**
   * The constraint for `responseFormat` on `model`, compiled now (so a bad schema is a GrammarError before any
   * admission or forward); null when there is none (absent or text).
   */
  async constraintFor(
    responseFormat: unknown,
    model: GrammarModel,
  ): Promise<ConstraintSource | null> {
    const request = parseResponseFormat(responseFormat);
    if (!request) return null;
    const { vocabSize, eosId } = model.info;
    const checked =
      request.kind === 'json_object'
        ? { grammarSchema: { type: 'object' }, strict: false }
        : {
            ...checkSchema(request.schema, { maxUnits: unitsFor(vocabSize) }),
            strict: request.strict,
          };
    const tokenizer = model.codec.tokenizerJson;
    const key = `${this.tokenizerId(tokenizer)}|${vocabSize}|${checked.strict}|${canonicalJson(checked.grammarSchema)}`;
    const compile = () =>
      this.compile(key, tokenizer, vocabSize, checked.grammarSchema, checked.strict);
    await compile();
    const spec = responseFormat as Record<string, unknown>;
    return { spec, start: async () => this.matcher(await compile(), eosId) };
  }

  /** Drops every cached object (disposing those of the live instance). */
  clear(): void {
    for (const g of this.compiled.values()) g.dispose();
    this.compiled.clear();
    for (const v of this.vocabularies.values()) this.disposeVocabulary(v);
    this.vocabularies.clear();
  }

  /** Cached grammars, for tests. */
  get cachedGrammars(): number {
    return this.compiled.size;
  }

  private runtime(): Promise<XGrammarRuntime> {
    this.runtimeP ??= Promise.resolve(this.opts.runtime());
    return this.runtimeP;
  }

  private tokenizerId(tokenizer: object): number {
    let id = this.tokenizerIds.get(tokenizer);
    if (id === undefined) this.tokenizerIds.set(tokenizer, (id = this.nextTokenizerId++));
    return id;
  }

  /** Runs wasm work; an abort resets the instance and becomes `onAbort(reason)`. */
  private async guarded<T>(work: () => Promise<T>, onAbort: (reason: string) => Error): Promise<T> {
    const rt = await this.runtime();
    rt.takeErrors();
    try {
      return await work();
    } catch (e: unknown) {
      if (!isAbort(e)) throw e;
      const reason = abortReason(rt.takeErrors());
      rt.reset();
      this.epoch++;
      this.resets++;
      // The dropped instance's objects are never touched again (not even to dispose them).
      this.vocabularies.clear();
      this.compiled.clear();
      throw onAbort(reason);
    }
  }

  private async vocabulary(tokenizer: object, vocabSize: number): Promise<Vocabulary> {
    const hit = this.vocabularies.get(tokenizer);
    if (hit) return hit;
    const { encoded, vocabType } = grammarVocabulary(tokenizer, vocabSize);
    const { module: xgr } = await this.runtime();
    const info = await xgr.TokenizerInfo.createTokenizerInfo(
      encoded,
      vocabType,
      false,
      vocabSize,
      [],
    );
    const v: Vocabulary = {
      info,
      compiler: await xgr.GrammarCompiler.createGrammarCompiler(info, false),
    };
    if (this.vocabularies.size >= this.maxVocabularies) {
      const [oldKey, old] = this.vocabularies.entries().next().value as [object, Vocabulary];
      this.vocabularies.delete(oldKey);
      this.disposeVocabulary(old);
    }
    this.vocabularies.set(tokenizer, v);
    return v;
  }

  private disposeVocabulary(v: Vocabulary): void {
    v.compiler.dispose();
    v.info.dispose();
  }

  private compile(
    key: string,
    tokenizer: object,
    vocabSize: number,
    schema: Record<string, unknown>,
    strict: boolean,
  ): Promise<XGrammarCompiled> {
    const hit = this.compiled.get(key);
    if (hit) {
      this.compiled.delete(key);
      this.compiled.set(key, hit);
      return Promise.resolve(hit);
    }
    return this.guarded(
      async () => {
        const { compiler } = await this.vocabulary(tokenizer, vocabSize);
        // Compact JSON: no whitespace (a model cannot pad forever), "," and ":" without spaces.
        const g = await compiler.compileJSONSchema(
          JSON.stringify(schema),
          false,
          -1,
          [',', ':'],
          strict,
        );
        const raced = this.compiled.get(key);
        if (raced) {
          g.dispose();
          return raced;
        }
        if (this.compiled.size >= this.maxCompiled) {
          const [oldKey, old] = this.compiled.entries().next().value as [string, XGrammarCompiled];
          this.compiled.delete(oldKey);
          old.dispose(); // matchers made from it keep their own reference
        }
        this.compiled.set(key, g);
        return g;
      },
      (reason) =>
        new GrammarError(
          `the schema was rejected: ${reason}`,
          'response_format.json_schema.schema',
          'unsupported',
        ),
    );
  }

  private async matcher(compiled: XGrammarCompiled, eosId: number): Promise<TokenConstraint> {
    const { module: xgr } = await this.runtime();
    const m = await xgr.GrammarMatcher.createGrammarMatcher(compiled, [eosId], false);
    return new XGrammarConstraint(m, this.epoch, () => this.epoch);
  }
}

/** A TokenConstraint over one GrammarMatcher; refuses to touch it once its instance was dropped. */
class XGrammarConstraint implements TokenConstraint {
  private disposed = false;

  constructor(
    private readonly m: XGrammarMatcher,
    private readonly epoch: number,
    private readonly current: () => number,
  ) {}

  private live(): XGrammarMatcher {
    if (this.disposed) throw new Error('grammar constraint used after dispose');
    if (this.current() !== this.epoch)
      throw new Error('the grammar engine was restarted; this generation cannot continue');
    return this.m;
  }

  allowed(): Promise<Int32Array> {
    return this.live().getNextTokenBitmask();
  }

  accept(token: number): boolean {
    return this.live().acceptToken(token);
  }

  isTerminated(): boolean {
    return this.live().isTerminated();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.current() === this.epoch) this.m.dispose();
  }
}
