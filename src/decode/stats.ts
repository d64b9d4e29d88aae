/** Counters and timers for one generation. Uses performance.now() (Web standard). */
import type { DecodeStats } from './events.ts';

export class StatsRecorder {
  forwards = 0;
  prefillForwards = 0;
  blocks = 0;
  committedTokens = 0;
  cachedPromptTokens = 0;
  private runnerMs = 0;
  private prefillMs = 0;
  private pausedMs = 0;
  private pausedAt: number | null = null;
  private readonly startedAt = performance.now();

  /** Times one runner call and counts it as a forward (NFE). */
  async forward<T>(call: () => Promise<T>, prefill = false): Promise<T> {
    const t0 = performance.now();
    this.forwards++;
    if (prefill) this.prefillForwards++;
    try {
      return await call();
    } finally {
      this.runnerMs += performance.now() - t0;
    }
  }

  /** Times the whole prefill phase (inputs, visibility and the forward). */
  async prefill(phase: () => Promise<void>): Promise<void> {
    const t0 = performance.now();
    try {
      await phase();
    } finally {
      this.prefillMs += performance.now() - t0;
    }
  }

  /** Around a yield: the consumer's time is not the loop's. */
  pause(): void {
    this.pausedAt = performance.now();
  }

  resume(): void {
    if (this.pausedAt !== null) this.pausedMs += performance.now() - this.pausedAt;
    this.pausedAt = null;
  }

  finish(outputTokens: number): DecodeStats {
    const totalMs = performance.now() - this.startedAt - this.pausedMs;
    return {
      forwards: this.forwards,
      prefillForwards: this.prefillForwards,
      cachedPromptTokens: this.cachedPromptTokens,
      blocks: this.blocks,
      committedTokens: this.committedTokens,
      outputTokens,
      tokensPerForward: this.forwards > 0 ? this.committedTokens / this.forwards : 0,
      totalMs,
      prefillMs: this.prefillMs,
      stepsMs: totalMs - this.prefillMs,
      runnerMs: this.runnerMs,
      loopMs: totalMs - this.runnerMs,
    };
  }
}
